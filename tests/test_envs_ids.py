"""Instance ids: round trip, tampering, foreign versions and environments, bad configs."""

from __future__ import annotations

import re

import pytest

import verifiers
from envs import InstanceIdError, get_environment
from envs.ids import decode_id, encode_id


def test_round_trip_and_url_safe():
    instance_id = encode_id("sudoku", 3, 12345, {"size": 4, "empty_fraction": 0.5})
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", instance_id)
    decoded = decode_id(instance_id)
    assert (decoded.name, decoded.version, decoded.seed) == ("sudoku", 3, 12345)
    assert decoded.config == {"size": 4, "empty_fraction": 0.5}
    # key order does not matter: the config is canonical JSON
    assert encode_id("sudoku", 3, 12345, {"empty_fraction": 0.5, "size": 4}) == instance_id


@pytest.mark.parametrize("mangle", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),           # checksum edited
    lambda s: s.replace(".12345.", ".12346."),                   # seed edited
    lambda s: s[: len(s) // 2],                                  # truncated
    lambda s: s + ".extra",                                      # extra part
    lambda s: "",
])
def test_tampered_ids_are_refused(mangle):
    instance_id = encode_id("sudoku", 1, 12345, {"size": 4})
    with pytest.raises(InstanceIdError):
        decode_id(mangle(instance_id))


def test_non_string_and_oversized_ids_are_refused():
    with pytest.raises(InstanceIdError, match="string"):
        decode_id(42)
    with pytest.raises(InstanceIdError, match="characters"):
        decode_id("a" * 10_000)


def test_seed_must_be_non_negative():
    with pytest.raises(ValueError, match="seed"):
        get_environment("lcs").sample(-1)


def test_foreign_version_is_rejected_with_a_clear_message():
    env = get_environment("sudoku")
    foreign = encode_id("sudoku", env.version + 1, 0, env.parse_config({}).model_dump(mode="json"))
    with pytest.raises(InstanceIdError, match=rf"made by sudoku version {env.version + 1}.*this is sudoku@{env.version}"):
        env.decode(foreign)
    verdict = verifiers.verify("env:sudoku", completion="<answer>1</answer>", reference=foreign)
    assert verdict.status == "invalid_input"
    assert f"version {env.version + 1}" in verdict.message and "sudoku@1" in verdict.message


def test_id_of_another_environment_is_rejected():
    other = get_environment("lcs").sample(0).id
    verdict = verifiers.verify("env:sudoku", completion="<answer>1</answer>", reference=other)
    assert verdict.status == "invalid_input" and "belongs to environment 'lcs'" in verdict.message


def test_config_outside_the_documented_ranges_is_rejected_even_with_a_valid_checksum():
    forged = encode_id("sudoku", 1, 0, {"size": 5, "empty_fraction": 0.5})
    verdict = verifiers.verify("env:sudoku", completion="<answer>1</answer>", reference=forged)
    assert verdict.status == "invalid_input" and "invalid config" in verdict.message
    unknown_knob = encode_id("lcs", 1, 0, {"length": 12, "alphabet_size": 4, "edit_rate": 0.4, "cheat": True})
    assert verifiers.verify("env:lcs", completion="<answer>a</answer>", reference=unknown_knob).status == "invalid_input"


def test_missing_or_non_string_reference_is_invalid_input():
    for reference in (None, 17, {"id": "x"}):
        verdict = verifiers.verify("env:lcs", completion="<answer>a</answer>", reference=reference)
        assert verdict.status == "invalid_input"


def test_forged_ids_with_a_recomputed_checksum_are_still_validated():
    from envs.ids import _b64, _checksum, canonical_json

    def forge(seed_text: str, config: object) -> str:
        body = f"lcs.v1.{seed_text}.{_b64(canonical_json(config))}"
        return f"{body}.{_checksum(body)}"

    with pytest.raises(InstanceIdError, match="seed is over"):
        decode_id(forge("9" * 40, {}))
    with pytest.raises(InstanceIdError, match="ASCII"):
        decode_id(f"lcs.v1.\u0661\u0662.{_b64(canonical_json({}))}.xxxxxxxx")
    with pytest.raises(InstanceIdError, match="JSON object"):
        decode_id(forge("1", [1, 2]))
