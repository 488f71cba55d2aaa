"""Spare management: how many workers the master starts and retires."""

from __future__ import annotations

import itertools

import pytest
from mtpolicyd_core.config.loader import load_config_text
from mtpolicyd_core.engine import PolicyEngine
from mtpolicyd_server.master import Master, WorkerRecord
from mtpolicyd_server.scoreboard import WorkerState, WorkerStatus

CONFIG = """
min_servers = {min_servers}
min_spare_servers = {min_spare}
max_spare_servers = {max_spare}
max_servers = {max_servers}
<VirtualHost 12345>
  name = "test"
  <Plugin answer>
    module = "Action"
    action = "dunno"
  </Plugin>
</VirtualHost>
"""


class CountingMaster(Master):
    """A master whose workers are status pages only: spawning and retiring are recorded."""

    def __init__(
        self, min_servers: int = 4, min_spare: int = 4, max_spare: int = 12, max_servers: int = 25
    ) -> None:
        text = CONFIG.format(
            min_servers=min_servers, min_spare=min_spare, max_spare=max_spare, max_servers=max_servers
        )
        super().__init__(PolicyEngine(load_config_text(text)), [], lambda: self.engine)
        self.pids = itertools.count(1000)
        self.retired: list[int] = []

    def spawn_worker(self) -> None:
        pid = next(self.pids)
        self.workers[pid] = WorkerRecord(pid, WorkerStatus(), self.generation)

    def retire_worker(self, record: WorkerRecord) -> None:
        record.retiring = True
        self.retired.append(record.pid)

    def set_states(self, *states: WorkerState) -> None:
        for record, state in zip(self.workers.values(), states, strict=False):
            record.status.set_state(state)


def test_master_starts_min_servers_workers() -> None:
    master = CountingMaster(min_servers=4, min_spare=2)
    master.manage_workers()
    assert len(master.workers) == 4


def test_busy_workers_get_spares_up_to_max_servers() -> None:
    master = CountingMaster(min_servers=2, min_spare=2, max_spare=3, max_servers=5)
    master.manage_workers()
    master.set_states(WorkerState.BUSY, WorkerState.BUSY)
    master.manage_workers()
    assert len(master.workers) == 4
    master.set_states(*[WorkerState.BUSY] * 4)
    master.manage_workers()
    assert len(master.workers) == 5


def test_too_many_idle_workers_are_retired_down_to_max_spare() -> None:
    master = CountingMaster(min_servers=1, min_spare=1, max_spare=2, max_servers=10)
    for _ in range(6):
        master.spawn_worker()
    master.manage_workers()
    assert len(master.retired) == 4


def test_idle_workers_holding_connections_are_not_retired_as_surplus() -> None:
    master = CountingMaster(min_servers=1, min_spare=1, max_spare=2, max_servers=10)
    for _ in range(6):
        master.spawn_worker()
    for record in master.workers.values():
        record.status.set_connections(3)
    master.manage_workers()
    assert master.retired == []


def test_idle_workers_are_never_retired_below_min_servers() -> None:
    master = CountingMaster(min_servers=4, min_spare=1, max_spare=2, max_servers=10)
    master.manage_workers()
    assert master.retired == []


def test_draining_worker_is_replaced_at_once() -> None:
    master = CountingMaster(min_servers=2, min_spare=1, max_spare=2, max_servers=4)
    master.manage_workers()
    master.set_states(WorkerState.DRAINING)
    master.manage_workers()
    assert len(master.workers) == 3


def test_workers_of_an_older_configuration_do_not_count() -> None:
    master = CountingMaster(min_servers=2, min_spare=1, max_spare=2, max_servers=4)
    master.manage_workers()
    master.generation += 1
    master.manage_workers()
    assert len(master.workers) == 4


@pytest.mark.parametrize("signame", ["hup", "term", "int", "quit", "chld"])
def test_every_handled_signal_has_a_handler(signame: str) -> None:
    assert callable(getattr(Master, f"handle_{signame}"))
