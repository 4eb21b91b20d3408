"""The hack probe: tries known reward hacks against any verifier and reports which earned reward."""

from verifiers.probe.corpus import Hack, hacks_for
from verifiers.probe.defaults import BUILTIN_CASES, ProbeCase
from verifiers.probe.runner import ProbeRequest, cases_for, families, judge, probe_items

__all__ = ["BUILTIN_CASES", "Hack", "ProbeCase", "ProbeRequest", "cases_for", "families", "hacks_for", "judge",
           "probe_items"]
