"""`env:NAME`: an environment seen as a verifier. The reference is the instance id."""

from __future__ import annotations

from typing import Any

from envs.base import Environment, Instance
from verifiers.base import Context, NoParams, Verifier
from verifiers.contract import Verdict


class EnvVerifier(Verifier):
    """Rebuilds the instance from its id (cached per process) and scores the completion."""

    Params = NoParams

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.name = f"env:{env.name}"  # type: ignore[misc]  # per-instance, one verifier per env
        self.version = env.version  # type: ignore[misc]
        self.description = f"{env.description} Reference: an instance id from /v1/envs/{env.name}/sample."  # type: ignore[misc]

    def check_reference(self, reference: Any, params: NoParams) -> str | dict[str, Any]:
        # Decoding is cheap and catches foreign versions, corrupted ids and bad configs up front.
        self.env.decode(reference)
        instance_id = reference.strip()
        # An instance this process already built (it was sampled here) travels to the worker
        # with the job, so the worker does not generate it again. Never built here: the id alone.
        built = self.env.cache.peek(instance_id)
        return {"instance": built.scoring_view()} if built is not None else instance_id

    def verify(self, completion: str, reference: str | dict[str, Any], params: NoParams, ctx: Context) -> Verdict:
        if isinstance(reference, dict):  # made by check_reference in the API process, never by a client
            instance = Instance.from_scoring_view(reference["instance"])
        else:
            instance = self.env.rebuild(reference)
        return self.env.score(instance, completion)
