"""The verifiers that ship with Referee."""

from __future__ import annotations

from verifiers.base import Verifier


def builtin_verifiers() -> list[Verifier]:
    # Imported here so that `import verifiers` stays cheap and heavy engines load on first use.
    from verifiers.exact import ExactVerifier
    from verifiers.math_verifier import MathVerifier
    from verifiers.regex import RegexVerifier

    return [
        ExactVerifier(),
        MathVerifier(),
        RegexVerifier(),
    ]
