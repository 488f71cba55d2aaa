"""Traces: scenarios of mails and the policy requests Postfix makes for them."""

from policy_sim.trace.loader import TraceError, load_trace, parse_trace
from policy_sim.trace.model import Expectation, Mail, ScoreProbe, Service, Stage, Trace

__all__ = [
    "Expectation",
    "Mail",
    "ScoreProbe",
    "Service",
    "Stage",
    "Trace",
    "TraceError",
    "load_trace",
    "parse_trace",
]
