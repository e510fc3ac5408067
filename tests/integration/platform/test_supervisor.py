"""The supervisor's policy, on a fake clock: notice a death, restart with exponential backoff, keep
trying when a restart fails, forget past failures once a component has stayed up."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from structlog.testing import capture_logs

from app.server.supervisor import Supervisor


@dataclass
class FakeComponent:
    name: str
    up: bool = True
    pid: int | None = 100
    refuse: int = 0  # how many restarts fail before one works
    restarts: list[float] = field(default_factory=list)
    clock: list[float] = field(default_factory=lambda: [0.0])

    def alive(self) -> bool:
        return self.up

    def exit_detail(self) -> str:
        return "killed"

    def restart(self) -> None:
        self.restarts.append(self.clock[0])
        if self.refuse:
            self.refuse -= 1
            raise RuntimeError("address already in use")
        self.up = True
        self.pid = (self.pid or 0) + 1


def _run(supervisor: Supervisor, clock: list[float], until: float, step: float = 0.1) -> None:
    while clock[0] < until:
        clock[0] = round(clock[0] + step, 3)
        supervisor.check()


@pytest.fixture
def clock() -> list[float]:
    return [0.0]


def test_a_dead_component_is_restarted_after_the_first_backoff(clock: list[float]) -> None:
    redis = FakeComponent("redis", clock=clock)
    supervisor = Supervisor([redis], clock=lambda: clock[0])
    with capture_logs() as logs:
        _run(supervisor, clock, 1.0)
        redis.up = False
        _run(supervisor, clock, 1.2)
        assert supervisor.down() == ["redis"]
        _run(supervisor, clock, 3.0)
    assert redis.restarts == [pytest.approx(1.6)]  # noticed at 1.1, restarted 0.5 s later
    assert supervisor.down() == []
    events = [(e["event"], e["component"]) for e in logs]
    assert events == [("component_down", "redis"), ("component_restarted", "redis")]
    assert logs[1]["pid"] == 101


def test_failed_restarts_back_off_exponentially_up_to_the_cap(clock: list[float]) -> None:
    postgres = FakeComponent("postgres", refuse=7, clock=clock)
    supervisor = Supervisor([postgres], clock=lambda: clock[0], max_delay=8.0)
    postgres.up = False
    with capture_logs() as logs:
        _run(supervisor, clock, 60.0)
    gaps = [round(b - a, 1) for a, b in zip(postgres.restarts, postgres.restarts[1:], strict=False)]
    assert gaps == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]  # after 0.5 s first: doubling, capped
    assert postgres.up
    failed = [e for e in logs if e["event"] == "component_restart_failed"]
    assert len(failed) == 7
    assert failed[0]["error"] == "RuntimeError: address already in use"


def test_backoff_resets_once_the_component_has_stayed_up(clock: list[float]) -> None:
    worker = FakeComponent("worker", clock=clock)
    supervisor = Supervisor([worker], clock=lambda: clock[0], stable_after=60.0)
    for _ in range(3):  # three quick deaths: 0.5 s, 1 s, 2 s
        worker.up = False
        _run(supervisor, clock, clock[0] + 5)
    assert supervisor.delay(3) == 4.0
    _run(supervisor, clock, clock[0] + 61)  # a quiet minute
    died = clock[0]
    worker.up = False
    _run(supervisor, clock, died + 2)
    assert worker.restarts[-1] - died == pytest.approx(0.6)  # back to the first delay (plus the poll)


def test_one_component_down_does_not_hold_up_the_others(clock: list[float]) -> None:
    redis = FakeComponent("redis", refuse=100, clock=clock)
    api = FakeComponent("api", clock=clock)
    supervisor = Supervisor([redis, api], clock=lambda: clock[0])
    redis.up = api.up = False
    _run(supervisor, clock, 5.0)
    assert api.up
    assert not redis.up
    assert supervisor.down() == ["redis"]
