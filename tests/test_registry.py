import pytest

import verifiers
from verifiers.registry import DuplicateVerifierError, Registry, UnknownVerifierError, parse_spec
from verifiers.exact import ExactVerifier


def test_parse_spec():
    assert parse_spec("math") == ("math", None)
    assert parse_spec("env:sudoku@3") == ("env:sudoku", 3)
    with pytest.raises(UnknownVerifierError):
        parse_spec("math@x")


def test_resolve_latest_and_pinned():
    class ExactV2(ExactVerifier):
        version = 2

    reg = Registry([ExactVerifier(), ExactV2()])
    assert reg.resolve("exact").version == 2
    assert reg.resolve("exact@1").version == 1
    with pytest.raises(UnknownVerifierError, match="exact@9 is not available"):
        reg.resolve("exact@9")
    with pytest.raises(UnknownVerifierError, match="unknown verifier"):
        reg.resolve("nope")


def test_duplicates_rejected():
    reg = Registry([ExactVerifier()])
    with pytest.raises(DuplicateVerifierError):
        reg.register(ExactVerifier)


def test_python_api_exact():
    v = verifiers.verify("exact", completion="<think>hmm</think>  Paris ", reference="paris")
    assert v.status == "ok" and v.reward == 1.0 and v.verifier == "exact@1"
    bad = verifiers.verify("nope", completion="x")
    assert bad.status == "invalid_input" and "unknown verifier" in bad.message
