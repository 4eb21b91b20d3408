"""Instance ids: `NAME.vVERSION.SEED.CONFIG.CHECK`, compact, URL-safe, self-describing.

An id carries everything needed to rebuild its instance in any process: the environment's
name and version, the seed, and the full config (canonical JSON, base64url without padding).
`CHECK` is a short checksum over the rest, so a truncated or hand-edited id is
refused instead of silently rebuilding a different puzzle.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^v([0-9]+)$")
MAX_SEED = 2**63 - 1
MAX_ID_CHARS = 4096


class InstanceIdError(ValueError):
    """The id cannot be decoded, is corrupted, or belongs to another environment or version."""


def canonical_json(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _checksum(body: str) -> str:
    return _b64(hashlib.blake2b(body.encode("ascii"), digest_size=6).digest())


@dataclass(frozen=True)
class DecodedId:
    name: str
    version: int
    seed: int
    config: dict[str, Any]


def encode_id(name: str, version: int, seed: int, config: dict[str, Any]) -> str:
    if not _NAME.match(name):
        raise ValueError(f"environment name {name!r} must match {_NAME.pattern}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
    body = f"{name}.v{version}.{seed}.{_b64(canonical_json(config))}"
    return f"{body}.{_checksum(body)}"


def decode_id(instance_id: Any) -> DecodedId:
    """Parse and checksum-verify an id; raises InstanceIdError with the reason."""
    if not isinstance(instance_id, str):
        raise InstanceIdError(f"an instance id is a string, got {type(instance_id).__name__}")
    if len(instance_id) > MAX_ID_CHARS:
        raise InstanceIdError(f"instance id is {len(instance_id)} characters, over {MAX_ID_CHARS}")
    if not instance_id.isascii():
        raise InstanceIdError("an instance id is ASCII only")
    parts = instance_id.strip().split(".")
    if len(parts) != 5:
        raise InstanceIdError(f"malformed instance id {instance_id[:80]!r}: expected NAME.vVERSION.SEED.CONFIG.CHECK")
    name, version_text, seed_text, config_text, check = parts
    body = ".".join(parts[:4])
    if _checksum(body) != check:
        raise InstanceIdError(f"instance id {instance_id[:80]!r} fails its checksum (truncated or edited?)")
    version_match = _VERSION.match(version_text)
    if not _NAME.match(name) or not version_match or not (seed_text.isascii() and seed_text.isdigit()):
        raise InstanceIdError(f"malformed instance id {instance_id[:80]!r}")
    if int(seed_text) > MAX_SEED:
        raise InstanceIdError(f"instance id seed is over {MAX_SEED}")
    try:
        config = orjson.loads(_unb64(config_text))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InstanceIdError(f"instance id {instance_id[:80]!r} has an undecodable config: {exc}") from None
    if not isinstance(config, dict):
        raise InstanceIdError("instance id config must be a JSON object")
    return DecodedId(name=name, version=int(version_match.group(1)), seed=int(seed_text), config=config)
