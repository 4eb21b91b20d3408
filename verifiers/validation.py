"""One way to turn a pydantic ValidationError into the short message a verdict or a 4xx carries."""

from __future__ import annotations

from pydantic import ValidationError


def first_error(exc: ValidationError, default_location: str = "item") -> str:
    """`where: what` of the first error, e.g. `params.k: Input should be greater than 0`."""
    errors = exc.errors()
    if not errors:
        return str(exc)
    err = errors[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or default_location
    return f"{where}: {err['msg']}"
