"""policy-sim against the real daemon on real session back-ends: no lost update, no lock failure.

A synthetic trace of 2 000 mails (800 on the SQL back-ends, where every session write is a commit;
1-50 recipients, RCPT and END-OF-MESSAGE on vhost reputation, DATA on vhost accounting) is replayed
by 32 simulated smtpd processes with Postfix's connection reuse. Every RCPT answer must show the
score so far and END-OF-MESSAGE the whole mail's (recipients + 2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from policy_sim.checks import check_outcomes, lock_failures
from policy_sim.client import ClientSettings
from policy_sim.endpoint import Endpoint
from policy_sim.generate import GeneratorSettings, StageSpec, generate_document
from policy_sim.replay import replay
from policy_sim.trace import Trace, parse_trace
from policy_sim.trace.writer import dump_document

from integration.fixtures.daemons import MtpolicydDaemon

HERE = Path(__file__).parent
MAILS = {"memcached": 2000, "redis": 2000, "mariadb": 800, "sqlite": 800}
CONCURRENCY = 32
STAGES = (
    StageSpec("RCPT", "reputation", score=1, expect_score=True),
    StageSpec("DATA", "accounting", score=2),
    StageSpec("END-OF-MESSAGE", "reputation", expect_score=True),
)

SESSION_BLOCKS = {
    "memcached": '<Connection memcached>\n  module = "Memcached"\n  servers = "{memcached}"\n'
    '  namespace = "sim-"\n</Connection>\n',
    "redis": '<Connection redis>\n  module = "Redis"\n  server = "{redis}"\n</Connection>\n',
    "mariadb": '<Connection sql>\n  module = "Sql"\n  url = "{sql_url}"\n</Connection>\n',
    "sqlite": '<Connection sql>\n  module = "Sql"\n  url = "sqlite:///{tmpdir}/sessions.sqlite"\n</Connection>\n',
}
SESSION_MODULES = {"memcached": "Memcached", "redis": "Redis", "mariadb": "Sql", "sqlite": "Sql"}


def scoring_config(backend: str) -> str:
    """The scoring vhosts with the session cache on ``backend``."""
    session = f'<SessionCache>\n  module = "{SESSION_MODULES[backend]}"\n</SessionCache>\n'
    return SESSION_BLOCKS[backend] + session + (HERE / "scoring-vhosts.conf").read_text()


def synthetic_trace(mails: int) -> Trace:
    settings = GeneratorSettings(
        mails=mails,
        seed=2024,
        max_recipients=50,
        mean_recipients=2.5,
        services={"reputation": "", "accounting": ""},
        stages=STAGES,
    )
    return parse_trace(dump_document(generate_document(settings)), f"<synthetic {mails} mails>")


@pytest.fixture
def backend_values(request: pytest.FixtureRequest) -> dict[str, object]:
    """Placeholders of the session back-end the test is parametrized with."""
    backend = request.param
    if backend == "memcached":
        return {"memcached": request.getfixturevalue("memcached_server").address}
    if backend == "redis":
        return {"redis": request.getfixturevalue("redis_server").address}
    if backend == "mariadb":
        return {"sql_url": request.getfixturevalue("mariadb_database").url}
    return {}


@pytest.mark.parametrize(
    ("backend", "backend_values"),
    [(name, name) for name in SESSION_BLOCKS],
    indirect=["backend_values"],
    ids=list(SESSION_BLOCKS),
)
def test_synthetic_trace_keeps_every_invariant(
    backend: str, backend_values: dict[str, object], python_mtpolicyd: Callable[..., MtpolicydDaemon]
) -> None:
    mails = MAILS[backend]
    trace = synthetic_trace(mails)
    counts = [len(mail.recipients) for mail in trace.mails]
    assert min(counts) == 1 and max(counts) <= 50 and max(counts) >= 20
    daemon = python_mtpolicyd(scoring_config(backend), **backend_values)
    endpoints = {
        "reputation": Endpoint(daemon.host, daemon.ports[0]),
        "accounting": Endpoint(daemon.host, daemon.ports[1]),
    }

    result = asyncio.run(replay(trace, endpoints, CONCURRENCY, ClientSettings(timeout=30), seed=5))

    report = check_outcomes(result.outcomes, invariants=True)
    report.findings.extend(lock_failures(daemon.log_path))
    assert report.ok, report.summary() + "\n" + "\n".join(f.as_diff() for f in report.findings[:10])
    assert report.mails == mails
    assert report.requests == trace.request_count()
    assert report.scores_checked == sum(counts) + mails
    assert result.connections_opened == 2 * CONCURRENCY  # kept alive for the whole run, like Postfix
