"""The registry: resolves `name` / `name@version` to a verifier, lists them, loads plugins."""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from verifiers.base import Verifier

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "referee.verifiers"
PLUGINS_ENV_VAR = "REFEREE_PLUGINS"


class UnknownVerifierError(LookupError):
    pass


class RetiredVerifierError(UnknownVerifierError):
    """The verifier existed and was retired; items naming it are refused with the reason."""


class DuplicateVerifierError(ValueError):
    pass


def parse_spec(spec: str) -> tuple[str, int | None]:
    """`math` -> ("math", None); `math@2` -> ("math", 2)."""
    name, sep, version = spec.strip().rpartition("@")
    if not sep:
        return version, None
    if not version.isdigit() or not name:
        raise UnknownVerifierError(f"bad verifier spec {spec!r}: expected NAME or NAME@VERSION")
    return name, int(version)


class Registry:
    def __init__(self, verifiers: Iterable[Verifier | type[Verifier]] = ()) -> None:
        self._by_name: dict[str, dict[int, Verifier]] = {}
        self._resolved: dict[str, Verifier] = {}  # spec -> verifier, on the hot path of every job
        self._fingerprint: str | None = None
        self._retired: dict[str, str] = {}  # "name@version" -> why it was retired
        for v in verifiers:
            self.register(v)

    def __reduce__(self) -> Any:
        # Pickles as its verifiers, so the registry a server runs with can reach worker processes.
        return (Registry, (self.all(),))

    @property
    def fingerprint(self) -> str:
        """Names this registry's content (each `name@version` and what implements it): a server
        and its workers hold the same one, and a task carries it."""
        if self._fingerprint is None:
            entries = "\n".join(f"{v.spec} {v.identity()}" for v in self.all())
            self._fingerprint = hashlib.blake2b(entries.encode(), digest_size=8).hexdigest()
        return self._fingerprint

    def register(self, verifier: Verifier | type[Verifier]) -> Verifier:
        instance = verifier() if isinstance(verifier, type) else verifier
        if not isinstance(instance, Verifier):
            raise TypeError(f"{verifier!r} is not a Verifier")
        name, version = getattr(instance, "name", None), instance.version
        if not isinstance(name, str) or not name or "@" in name:
            raise ValueError(f"{type(instance).__name__} needs a name without '@', got {name!r}")
        versions = self._by_name.setdefault(name, {})
        if version in versions:
            raise DuplicateVerifierError(f"verifier {name}@{version} is already registered")
        if f"{name}@{version}" in self._retired:
            raise DuplicateVerifierError(f"verifier {name}@{version} was retired; register a new version")
        versions[version] = instance
        self._resolved.clear()
        self._fingerprint = None
        return instance

    def retire(self, name: str, version: int, reason: str) -> None:
        """Take `name@version` out of service for good; items naming it get `reason`."""
        versions = self._by_name.get(name, {})
        versions.pop(version, None)
        if not versions:
            self._by_name.pop(name, None)
        self._retired[f"{name}@{version}"] = reason
        self._resolved.clear()
        self._fingerprint = None

    def retired(self) -> dict[str, str]:
        return dict(self._retired)

    def resolve(self, spec: str) -> Verifier:
        found = self._resolved.get(spec)
        if found is None:
            found = self._resolved[spec] = self._resolve(spec)
        return found

    def _resolve(self, spec: str) -> Verifier:
        name, version = parse_spec(spec)
        if version is not None and f"{name}@{version}" in self._retired:
            raise RetiredVerifierError(f"verifier {name}@{version} was retired: {self._retired[f'{name}@{version}']}")
        versions = self._by_name.get(name)
        if not versions:
            gone = sorted(s for s in self._retired if s.rpartition("@")[0] == name)
            if gone:
                raise RetiredVerifierError(f"verifier {name} was retired ({', '.join(gone)}): {self._retired[gone[-1]]}")
            raise UnknownVerifierError(f"unknown verifier {name!r}; known: {', '.join(sorted(self._by_name))}")
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            have = ", ".join(f"{name}@{v}" for v in sorted(versions))
            raise UnknownVerifierError(f"verifier {name}@{version} is not available; have {have}")
        return versions[version]

    def __contains__(self, spec: str) -> bool:
        try:
            self.resolve(spec)
        except UnknownVerifierError:
            return False
        return True

    def all(self) -> list[Verifier]:
        return [v for name in sorted(self._by_name) for _, v in sorted(self._by_name[name].items())]

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": v.name,
                "version": v.version,
                "spec": v.spec,
                "description": v.description,
                "async": v.is_async,
                "params_schema": v.Params.model_json_schema(),
                **({"runtime": v.registration} if getattr(v, "registration", None) else {}),
            }
            for v in self.all()
        ]

    def load_plugins(self, group: str = ENTRY_POINT_GROUP, env_var: str = PLUGINS_ENV_VAR) -> None:
        """Register verifiers from installed entry points and from modules named in $REFEREE_PLUGINS."""
        for ep in entry_points(group=group):
            self._register_exported(ep.load(), origin=f"entry point {ep.name}={ep.value}")
        for ref in filter(None, (s.strip() for s in os.environ.get(env_var, "").split(","))):
            module_name, _, attr = ref.partition(":")
            module = importlib.import_module(module_name)
            self._register_exported(getattr(module, attr or "VERIFIERS"), origin=f"{env_var} {ref}")

    def _register_exported(self, obj: Any, origin: str) -> None:
        """A plugin exports a Verifier (class or instance), an iterable of them, or a callable returning one."""
        if isinstance(obj, Verifier) or (isinstance(obj, type) and issubclass(obj, Verifier)):
            exported: Iterable[Any] = [obj]
        elif callable(obj):
            result = obj()
            exported = [result] if isinstance(result, Verifier) else result
        else:
            exported = obj
        for item in exported:
            self.register(item)
            log.debug("registered %r from %s", item, origin)


_default: Registry | None = None


def default_registry(reload: bool = False) -> Registry:
    """Built-in verifiers plus installed plugins, built once per process (again with `reload=True`)."""
    global _default
    if _default is None or reload:
        from verifiers.builtin import builtin_verifiers

        registry = Registry(builtin_verifiers())
        registry.load_plugins()
        _default = registry
    return _default
