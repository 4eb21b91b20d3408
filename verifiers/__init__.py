"""Referee's verifier contract, registry and built-in verifiers.

    import verifiers
    verdict = verifiers.verify("exact", completion="Paris", reference="paris")
"""

from verifiers.api import verify
from verifiers.base import Context, NoParams, Verifier, verifier_from_function
from verifiers.contract import ChatMessage, Item, Status, Verdict, completion_text
from verifiers.registry import Registry, default_registry

__all__ = [
    "ChatMessage",
    "Context",
    "Item",
    "NoParams",
    "Registry",
    "Status",
    "Verdict",
    "Verifier",
    "completion_text",
    "default_registry",
    "verifier_from_function",
    "verify",
]
