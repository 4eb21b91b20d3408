"""The runtime verifiers of one registry: admitted, stored, applied, retired, and kept in sync.

The server admits and retires through `RuntimeVerifiers`; every process that scores (the
server and its workers, on this host or another) applies the same stored records to its own
registry with `sync()`, so a verifier registered once is live everywhere without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from pydantic import ValidationError

from verifiers.base import Verifier
from verifiers.custom.admission import AdmissionReport, admit, admit_in_subprocess, probe_case
from verifiers.custom.build import Spec, build_verifier
from verifiers.custom.spec import spec_adapter
from verifiers.custom.store import RegistrationStore
from verifiers.registry import Registry, UnknownVerifierError, parse_spec

log = logging.getLogger(__name__)


class RegistrationError(ValueError):
    """A registration request that cannot be taken; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "spec"
    return f"{where}: {err['msg']}"


class RuntimeVerifiers:
    def __init__(self, registry: Registry, store: RegistrationStore, *, admission_timeout_s: float | None = None,
                 ) -> None:
        """With `admission_timeout_s`, admission runs in a child process (which rebuilds the
        default registry plus the stored registrations, so `registry` must be the default one)
        and is cut off at that deadline; otherwise in this thread."""
        self.registry = registry
        self.store = store
        self.admission_timeout_s = admission_timeout_s
        self._applied: dict[str, str] = {}  # spec -> "live" | "retired", as applied to the registry
        self._lock = threading.Lock()  # one admission at a time: two racing for one name@version

    # -- every process ---------------------------------------------------------------------------

    def sync(self) -> bool:
        """Apply stored records this registry has not seen; True if anything changed."""
        with self._lock:
            return self._apply(self.store.load())

    def _apply(self, records: list[dict[str, Any]]) -> bool:
        changed = False
        for record in records:
            spec_name = f"{record['spec']['name']}@{record['spec']['version']}"
            state = "retired" if record.get("retired") else "live"
            if self._applied.get(spec_name) == state:
                continue
            if state == "retired":
                name, version = parse_spec(spec_name)
                self.registry.retire(name, version or 0, record["retired"].get("reason") or "retired")
            else:
                try:
                    spec = spec_adapter.validate_python(record["spec"])
                    verifier = build_verifier(spec, self.registry)
                except (ValidationError, ValueError, UnknownVerifierError) as exc:
                    log.error("stored verifier %s cannot be built here: %s", spec_name, exc)
                    continue
                self._attach(verifier, spec, record)
                self.registry.register(verifier)
            self._applied[spec_name] = state
            changed = True
        return changed

    @staticmethod
    def _attach(verifier: Verifier, spec: Spec, record: dict[str, Any]) -> None:
        verifier.registration = {  # type: ignore[attr-defined]
            "kind": spec.kind, "source_hash": spec.source_hash, "registered_at": record.get("registered_at"),
            "admission": record.get("admission"),
        }
        verifier.probe_case = probe_case(spec)  # type: ignore[attr-defined]

    def describe(self) -> list[dict[str, Any]]:
        """Every stored registration, live or retired, without the source itself."""
        out = []
        for record in self.store.load():
            spec = record["spec"]
            out.append({"spec": f"{spec['name']}@{spec['version']}", "kind": spec["kind"],
                        "source_hash": record.get("source_hash"), "registered_at": record.get("registered_at"),
                        "retired": record.get("retired"), "admission": record.get("admission")})
        return out

    # -- the server ------------------------------------------------------------------------------

    def register(self, raw: Any) -> AdmissionReport:
        """Admit a registration (blocking: it scores examples). Raises RegistrationError when the
        request itself cannot be taken; a refused admission is a report with `admitted: false`."""
        try:
            spec = spec_adapter.validate_python(raw)
        except ValidationError as exc:
            raise RegistrationError(422, f"invalid registration: {_first_error(exc)}") from None
        with self._lock:
            self._apply(self.store.load())
            self._check_free(spec)
            if self.admission_timeout_s is not None:
                report, pinned = admit_in_subprocess(spec, self.store.location, self.admission_timeout_s)
                verifier = build_verifier(pinned, self.registry) if report.admitted else None
            else:
                report, pinned, verifier = admit(spec, self.registry)
            if verifier is None:
                return report
            record = {"spec": pinned.model_dump(mode="json"), "source_hash": pinned.source_hash,
                      "admission": report.model_dump(mode="json"), "registered_at": time.time(), "retired": None}

            def add(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
                taken = {f"{r['spec']['name']}@{r['spec']['version']}" for r in records}
                if pinned.spec in taken:
                    raise RegistrationError(409, f"verifier {pinned.spec} was registered meanwhile")
                return records + [record]

            self.store.update(add)
            self._attach(verifier, pinned, record)
            self.registry.register(verifier)
            self._applied[pinned.spec] = "live"
            return report

    def _check_free(self, spec: Spec) -> None:
        retired = self.registry.retired()
        if spec.spec in retired:
            raise RegistrationError(409, f"verifier {spec.spec} was retired; a name@version is never reused, "
                                         "register a new version")
        existing = [v for v in self.registry.all() if v.name == spec.name]
        if any(getattr(v, "registration", None) is None for v in existing):
            raise RegistrationError(409, f"{spec.name!r} is a built-in or plugin verifier; choose another name")
        if any(v.version == spec.version for v in existing):
            raise RegistrationError(409, f"verifier {spec.spec} is already registered and immutable; "
                                         "register a new version")

    def retire(self, spec_name: str, reason: str | None = None) -> dict[str, Any]:
        name, version = parse_spec(spec_name)
        if version is None:
            raise RegistrationError(422, "retire one version: NAME@VERSION")
        why = reason or f"retired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
        found: dict[str, Any] = {}

        def mark(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            for record in records:
                if record["spec"]["name"] == name and record["spec"]["version"] == version:
                    if record.get("retired"):
                        raise RegistrationError(409, f"verifier {spec_name} is already retired")
                    record["retired"] = {"at": time.time(), "reason": why}
                    found.update(record)
                    return records
            raise RegistrationError(404, f"no runtime verifier {spec_name}")

        with self._lock:
            self.store.update(mark)
            self.registry.retire(name, version, why)
            self._applied[f"{name}@{version}"] = "retired"
        return found
