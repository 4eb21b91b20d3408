"""A plugin module loaded by name through $REFEREE_PLUGINS (no packaging needed)."""

from verifiers import Verdict, verifier_from_function


def shouts(completion, reference, params, ctx):
    """1 if the completion is all capitals."""
    return Verdict.scored(1.0 if completion.isupper() else 0.0)


VERIFIERS = [verifier_from_function(shouts, name="envplugin:shouts")]
