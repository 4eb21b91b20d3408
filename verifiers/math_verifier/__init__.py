"""The `math` verifier: answer extraction, exact parsing, exact comparison, guarded symbolic fallback.

    import verifiers
    verifiers.verify("math", completion="... so the answer is $\\boxed{\\frac{1}{2}}$", reference="0.5")

Modules: `extraction` (where the answer is), `latex` + `parser` (text to exact values), `compare`
(equivalence), `engine` (math-verify fallback), `limits` (cost guards), `decide` (cached decisions),
`verifier` (the registered class), `batch` (many items at once).
"""

from verifiers.math_verifier.batch import verify_batch
from verifiers.math_verifier.params import MathParams
from verifiers.math_verifier.verifier import MathVerifier

__all__ = ["MathParams", "MathVerifier", "verify_batch"]
