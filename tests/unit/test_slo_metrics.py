"""The SLIs' metrics (docs/slo.md): what a turn and a grade count, and the worker's opt-in /metrics server."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import ConfigError, load_settings
from app.domain.grading import metrics as grading_metrics
from app.domain.tutor import metrics as tutor_metrics
from app.domain.tutor.chat import TurnState
from app.lib.observability import REGISTRY
from jobs.worker import start_metrics_server


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_recorded_turn_counts_its_outcome_and_first_token() -> None:
    state = TurnState(message_id="m1")
    state.first_token_at = state.started + 0.5
    before = (_value("lyceum_tutor_turns_total", outcome="completed"), _value("lyceum_tutor_first_token_seconds_count"))
    early = _value("lyceum_tutor_first_token_seconds_bucket", le="0.5")
    tutor_metrics.observe_turn(state)
    assert _value("lyceum_tutor_turns_total", outcome="completed") == before[0] + 1
    assert _value("lyceum_tutor_first_token_seconds_count") == before[1] + 1
    assert _value("lyceum_tutor_first_token_seconds_bucket", le="0.5") == early + 1


def test_a_turn_without_text_counts_no_first_token_and_unknown_statuses_are_errors() -> None:
    state = TurnState(message_id="m2", status="strange")
    count = _value("lyceum_tutor_first_token_seconds_count")
    errors = _value("lyceum_tutor_turns_total", outcome="error")
    tutor_metrics.observe_turn(state)
    assert _value("lyceum_tutor_first_token_seconds_count") == count
    assert _value("lyceum_tutor_turns_total", outcome="error") == errors + 1
    unavailable = _value("lyceum_tutor_turns_total", outcome="unavailable")
    tutor_metrics.observe_unavailable()
    assert _value("lyceum_tutor_turns_total", outcome="unavailable") == unavailable + 1


def test_every_turn_and_grading_outcome_is_exported_before_it_happens() -> None:
    for outcome in tutor_metrics.OUTCOMES:
        assert REGISTRY.get_sample_value("lyceum_tutor_turns_total", {"outcome": outcome}) is not None
    for outcome in ("graded", "in_review", "failed"):
        assert REGISTRY.get_sample_value("lyceum_grading_outcomes_total", {"outcome": outcome}) is not None


def test_a_grade_observes_the_time_since_submission_and_its_outcome() -> None:
    now = datetime.now(UTC)
    slow = _value("lyceum_grading_duration_seconds_bucket", kind="unit_kind", le="60.0")
    graded = _value("lyceum_grading_outcomes_total", outcome="in_review")
    grading_metrics.observe_grade("unit_kind", now - timedelta(seconds=90), "in_review", now=now)
    assert _value("lyceum_grading_duration_seconds_count", kind="unit_kind") >= 1
    assert _value("lyceum_grading_duration_seconds_bucket", kind="unit_kind", le="60.0") == slow  # 90 s: too slow
    assert _value("lyceum_grading_duration_seconds_bucket", kind="unit_kind", le="120.0") >= 1
    assert _value("lyceum_grading_outcomes_total", outcome="in_review") == graded + 1
    # A grading host whose clock runs ahead must not observe a negative duration.
    grading_metrics.observe_grade("unit_kind", now + timedelta(seconds=5), "graded", now=now)
    assert _value("lyceum_grading_duration_seconds_bucket", kind="unit_kind", le="0.1") >= 1
    failed = _value("lyceum_grading_outcomes_total", outcome="failed")
    grading_metrics.observe_failed()
    assert _value("lyceum_grading_outcomes_total", outcome="failed") == failed + 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_worker_serves_metrics_only_when_asked(tmp_path: Path) -> None:
    assert start_metrics_server(load_settings({"LYCEUM_DATA_DIR": str(tmp_path)})) is None  # off by default
    port = _free_port()
    settings = load_settings({"LYCEUM_DATA_DIR": str(tmp_path), "LYCEUM_WORKER_METRICS_PORT": str(port)})
    server = start_metrics_server(settings)
    assert server is not None
    try:
        deadline = time.monotonic() + 30  # bounds a failing run only: the server listens before it returns
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert response.status_code == 200
        names = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"lyceum_grading_outcomes", "lyceum_grading_duration_seconds"} <= names
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("port", ["-1", "65536"])
def test_the_worker_metrics_port_must_be_a_port(tmp_path: Path, port: str) -> None:
    with pytest.raises(ConfigError, match="LYCEUM_WORKER_METRICS_PORT"):
        load_settings({"LYCEUM_DATA_DIR": str(tmp_path), "LYCEUM_WORKER_METRICS_PORT": port})
