"""The verifiers that ship with Referee."""

from __future__ import annotations

from verifiers.base import Verifier


def builtin_verifiers() -> list[Verifier]:
    # Imported here so that `import verifiers` stays cheap and heavy engines load on first use.
    from verifiers.choice import ChoiceVerifier
    from verifiers.code import CodeVerifier
    from verifiers.composite import CompositeVerifier
    from verifiers.exact import ExactVerifier
    from verifiers.format import FormatVerifier
    from verifiers.grm import GRMVerifier
    from verifiers.judge import JudgeVerifier
    from verifiers.math_verifier import MathVerifier
    from verifiers.numeric import NumericVerifier
    from verifiers.regex import RegexVerifier

    return [
        ChoiceVerifier(),
        CodeVerifier(),
        CompositeVerifier(),
        ExactVerifier(),
        FormatVerifier(),
        GRMVerifier(),
        JudgeVerifier(),
        MathVerifier(),
        NumericVerifier(),
        RegexVerifier(),
    ]
