"""What a runtime registration says: the verifier's definition plus its golden examples."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from verifiers.composite import Part
from verifiers.contract import ChatMessage

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"
MAX_SOURCE_CHARS = 200_000


class AcceptExample(BaseModel):
    """A completion the verifier must reward with at least `min_reward`."""

    model_config = ConfigDict(extra="forbid")
    completion: str | list[ChatMessage]
    reference: Any = None
    params: dict[str, Any] = Field(default_factory=dict)
    min_reward: float = 1.0


class RejectExample(BaseModel):
    """A completion the verifier must reward with at most `max_reward`."""

    model_config = ConfigDict(extra="forbid")
    completion: str | list[ChatMessage]
    reference: Any = None
    params: dict[str, Any] = Field(default_factory=dict)
    max_reward: float = 0.0


class ProbeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow: list[str] = Field(default_factory=list, description="hack names this verifier rewards by design")
    prompt: str | None = Field(None, description="the task's prompt, for the echo hacks")


class _SpecBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="registry name; `name@version` is immutable once admitted")
    version: int = Field(ge=1, le=1_000_000)
    description: str = Field("", max_length=2000)
    accept: list[AcceptExample] = Field(min_length=1, max_length=200)
    reject: list[RejectExample] = Field(min_length=1, max_length=200)
    time_budget_ms: float = Field(1000.0, gt=0, le=60_000, description="the most one golden example may take")
    probe: ProbeOptions = Field(default_factory=ProbeOptions)

    def definition(self) -> dict[str, Any]:
        """The fields that decide scores (golden examples and descriptions excluded)."""
        raise NotImplementedError

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def source_hash(self) -> str:
        payload = orjson.dumps(self.definition(), option=orjson.OPT_SORT_KEYS)
        return "sha256:" + hashlib.sha256(payload).hexdigest()


class PresetSpec(_SpecBase):
    """A built-in verifier with its params fixed, under a new name."""

    kind: Literal["preset"]
    base: str = Field(description="the verifier to fix, e.g. `math` or `math@1`")
    params: dict[str, Any] = Field(default_factory=dict)

    def definition(self) -> dict[str, Any]:
        return {"kind": self.kind, "base": self.base, "params": self.params}


class CompositeSpec(_SpecBase):
    """A weighted sum of other verifiers, with the parts fixed."""

    kind: Literal["composite"]
    parts: list[Part] = Field(min_length=1, max_length=16)

    def definition(self) -> dict[str, Any]:
        return {"kind": self.kind, "parts": [p.model_dump(mode="json") for p in self.parts]}


class PythonSpec(_SpecBase):
    """`score(completion, reference, params)` in Python, run in the sandbox."""

    kind: Literal["python"]
    source: str = Field(max_length=MAX_SOURCE_CHARS)
    entry: str = Field("score", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    params_schema: dict[str, Any] | None = Field(None, description="JSON schema of the item params")
    memory_mb: int = Field(256, ge=32, le=4096)

    @field_validator("params_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            from jsonschema import validators
            from jsonschema.exceptions import SchemaError

            try:
                validators.validator_for(schema).check_schema(schema)
            except SchemaError as exc:
                raise ValueError(f"params_schema is not a valid JSON schema: {exc.message}") from None
        return schema

    def definition(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "entry": self.entry,
                "params_schema": self.params_schema, "memory_mb": self.memory_mb}


RegistrationSpec = Annotated[Union[PresetSpec, CompositeSpec, PythonSpec], Field(discriminator="kind")]
spec_adapter: TypeAdapter[PresetSpec | CompositeSpec | PythonSpec] = TypeAdapter(RegistrationSpec)
