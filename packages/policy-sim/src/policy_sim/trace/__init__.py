"""Traces: scenarios of mails and the policy requests Postfix makes for them."""

from policy_sim.trace.loader import load_trace, parse_trace
from policy_sim.trace.model import Expectation, Host, Mail, Retry, ScoreProbe, Service, Stage, Trace
from policy_sim.trace.nodes import TraceError

__all__ = [
    "Expectation",
    "Host",
    "Mail",
    "Retry",
    "ScoreProbe",
    "Service",
    "Stage",
    "Trace",
    "TraceError",
    "load_trace",
    "parse_trace",
]
