"""OpenTelemetry traces over the wire: the app and an in-process worker export OTLP/HTTP to a fake collector
on 127.0.0.1 (tests/support/fake_otlp.py), and one trace runs from the HTTP request through its statements to
the SAQ job it enqueued; a tutor turn over the offline tutor has its turn and model spans; the access log line
carries the trace id. With no endpoint nothing is installed and nothing is sent."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from sqlalchemy import event
from websockets.asyncio.client import connect

from app.asgi import create_app
from app.config import Settings
from app.lib import tracing
from app.lib.observability import configure_logging
from app.lib.tracing_http import TracingMiddleware
from app.server.components import components_of
from jobs.worker import create_worker
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.fake_otlp import FakeCollector, ReceivedSpan
from tests.support.grading import (
    GRADING_ENV,
    assessment,
    course_by_slug,
    new_learner,
    rubric_tool_input,
    top_rubric_points,
    wait_for,
)
from tests.support.stack import make_settings, run_live_server
from tests.support.tutor_api import collect, login, new_session, ws_url

SERVER, CONSUMER, CLIENT = 2, 5, 3  # OTLP's SpanKind numbers
QUESTION = "What should I focus on first in this lesson about schemas?"
ANSWER = "Add a foreign key on order_lines.order_id, not null on status, and an index on created_at."


@pytest.fixture(scope="module")
def collector() -> Iterator[FakeCollector]:
    fake = FakeCollector().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def traced_settings(
    database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path, collector: FakeCollector
) -> Settings:
    return make_settings(
        database_url,
        redis_url,
        redis_prefix + "otel:",
        tmp_data_dir,
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        **GRADING_ENV,
    )


def _json_objects(text: str) -> list[dict[str, Any]]:
    """The JSON log lines in ``text``; print() writes a line and its newline apart, so two threads' lines
    can run together."""
    decoder, found = json.JSONDecoder(), []
    for line in text.splitlines():
        at = line.find("{")
        while at != -1:
            try:
                value, at = decoder.raw_decode(line, at)
                found.append(value)
            except ValueError:
                at += 1
            at = line.find("{", at)
    return [v for v in found if isinstance(v, dict)]


def _one(spans: list[ReceivedSpan], what: str, **attrs: Any) -> ReceivedSpan:
    found = [s for s in spans if all(s.attributes.get(k) == v for k, v in attrs.items())]
    assert found, f"no {what} span with {attrs} in {[(s.name, s.attributes) for s in spans]}"
    return found[-1]


class _Tee(io.StringIO):
    """What the app's logger prints: recorded while the test runs, always passed on to ``target``.

    structlog caches a logger, and the stream it prints to, on first use (cache_logger_on_first_use), so
    module-level loggers first used here keep this stream for the rest of the session: it must never close
    (as capsys's stream does after its test), only stop recording."""

    def __init__(self, target: Any) -> None:
        super().__init__()
        self.target = target
        self.recording = True

    def write(self, text: str) -> int:
        if self.recording:
            super().write(text)
        return int(self.target.write(text))

    def flush(self) -> None:
        self.target.flush()

    def close(self) -> None:  # never: cached loggers keep printing here
        self.recording = False


async def test_a_request_is_traced_through_its_job_and_a_tutor_turn_to_the_model(
    traced_settings: Settings, seeded: Any, collector: FakeCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    tee = _Tee(sys.stderr)
    monkeypatch.setattr(sys, "stderr", tee)  # create_app's configure_logging prints to sys.stderr
    app = create_app(dataclasses.replace(traced_settings, log_level="INFO", log_json=True))  # the access log
    monkeypatch.undo()
    worker = create_worker(traced_settings, handle_signals=False)
    running = asyncio.create_task(worker.start())
    try:
        async with AsyncTestClient(app=app) as client:
            assert tracing.enabled()
            headers = await new_learner(client)
            review = await assessment(client, headers, "schema-review")
            submitted = await client.post(
                f"/v1/assessments/{review['id']}/submissions", headers=headers, json={"text": ANSWER}
            )
            assert submitted.status_code in (200, 201, 202), submitted.text
            await wait_for(client, headers, submitted.json()["id"], "in_review")  # graded by the worker's job

            course = await course_by_slug(client, headers, "backend-foundations")
            lesson = next(i for m in course["modules"] for i in m["items"] if i["kind"] == "lesson")
            session = await client.post(
                "/v1/tutor/sessions",
                headers=headers,
                json={"course_id": course["id"], "item_id": lesson["id"], "mode": "socratic"},
            )
            assert session.status_code == 201, session.text
            turn = await client.post(
                session.json()["messages_url"],
                headers={**headers, "Accept": "text/event-stream"},
                json={"text": QUESTION, "id": f"t-{uuid.uuid4().hex[:8]}"},
            )
            assert turn.status_code == 200, turn.text
            assert "event: done" in turn.text
            assert tracing.force_flush()
    finally:
        await worker.stop()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    logged = tee.getvalue()
    tee.recording = False
    configure_logging("WARNING", False)  # the next tests' apps log as the suite's settings say

    spans = list(collector.spans)
    # The submission's request: an HTTP server span, its statements as children, the grading job in its trace.
    request = _one(
        [s for s in spans if s.kind == SERVER], "HTTP", **{"http.route": "/v1/assessments/{assessment_id}/submissions"}
    )
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["http.response.status_code"] == submitted.status_code
    children = [s for s in spans if s.parent_span_id == request.span_id and s.kind == CLIENT]
    statements = [s for s in children if s.attributes["db.system.name"] == "postgresql"]
    assert statements
    assert any(s.attributes["db.operation.name"] == "INSERT" for s in statements)
    job = _one([s for s in spans if s.kind == CONSUMER], "job", **{"lyceum.job.function": "grade_submission"})
    assert job.trace_id == request.trace_id
    assert job.parent_span_id in {s.span_id for s in spans if s.trace_id == request.trace_id}
    assert job.attributes["messaging.system"] == "saq"
    assert any(s.parent_span_id == job.span_id and "db.system.name" in s.attributes for s in spans), (
        "the job's own statements are its children"
    )

    # The one-round-trip reads (asyncpg, outside SQLAlchemy) are statement spans too.
    reads = [s for s in spans if str(s.attributes.get("db.query.text", "")).startswith("select * from lyceum_read_")]
    assert reads
    assert all(s.kind == CLIENT for s in reads)

    # Redis commands on the request path (the rate limiter's script) are client spans of the request.
    assert any(s.attributes["db.system.name"] == "redis" for s in children)

    # The tutor turn: the turn span inside the message request's span, the model call inside the turn.
    message_request = _one(
        [s for s in spans if s.kind == SERVER], "HTTP", **{"http.route": "/v1/tutor/sessions/{session_id}/messages"}
    )
    turn_span = next(s for s in spans if s.name == "tutor.turn")
    assert turn_span.trace_id == message_request.trace_id
    assert turn_span.attributes["lyceum.tutor.status"] == "completed"
    model = next(s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat")
    assert model.parent_span_id == turn_span.span_id
    assert model.kind == CLIENT
    assert model.attributes["gen_ai.provider.name"] == "offline"
    assert model.attributes["gen_ai.usage.output_tokens"] > 0
    assert "gen_ai.response.model" in model.attributes
    # Never the learner's words (PII): not the question, not the submitted answer.
    values = [str(v) for s in spans for v in s.attributes.values()]
    assert not any(QUESTION in v or ANSWER in v for v in values)

    # The access log line of the request carries its trace and span ids.
    lines = _json_objects(logged)
    access = [line for line in lines if line.get("event") == "request" and line.get("trace_id") == request.trace_id]
    assert access
    assert access[0]["span_id"] == request.span_id


async def test_the_claude_graders_model_call_is_a_span_of_the_job(
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_data_dir: Path,
    seeded: Any,
    collector: FakeCollector,
    fake_anthropic: FakeAnthropic,
) -> None:
    settings = make_settings(
        database_url,
        redis_url,
        redis_prefix + "otel-claude:",
        tmp_data_dir,
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake_anthropic.base_url,
        **GRADING_ENV,
    )
    fake_anthropic.script(tool_inputs=[rubric_tool_input(top_rubric_points())])
    before = len(collector.spans)
    worker = create_worker(settings, handle_signals=False)
    running = asyncio.create_task(worker.start())
    try:
        async with AsyncTestClient(app=create_app(settings)) as client:
            headers = await new_learner(client)
            review = await assessment(client, headers, "schema-review")
            submitted = await client.post(
                f"/v1/assessments/{review['id']}/submissions", headers=headers, json={"text": ANSWER}
            )
            await wait_for(client, headers, submitted.json()["id"], "graded")
            assert tracing.force_flush()
    finally:
        await worker.stop()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    configure_logging("WARNING", False)
    spans = collector.spans[before:]
    job = _one([s for s in spans if s.kind == CONSUMER], "job", **{"lyceum.job.function": "grade_submission"})
    calls = [s for s in spans if s.parent_span_id == job.span_id and s.attributes.get("gen_ai.operation.name")]
    assert len(calls) == 2  # two independent passes
    assert all(c.attributes["gen_ai.provider.name"] == "anthropic" for c in calls)
    assert all(c.attributes["gen_ai.usage.input_tokens"] > 0 for c in calls)
    assert all(c.attributes["gen_ai.usage.output_tokens"] > 0 for c in calls)
    assert all(c.attributes["gen_ai.request.model"] == settings.grading_model or settings.tutor_model for c in calls)


async def test_a_websocket_connection_and_its_turn_are_traced_and_flushed_at_shutdown(
    traced_settings: Settings, seeded: Any, collector: FakeCollector
) -> None:
    before = len(collector.spans)
    url, server, thread = run_live_server(create_app(traced_settings))
    try:
        learner = login(url, "learner@demo.test")
        session = new_session(url, learner)
        async with connect(ws_url(url, session), additional_headers=learner) as ws:
            await ws.send(json.dumps({"type": "message", "id": "w1", "text": QUESTION}))
            events = await collect(ws)
        assert events[-1]["type"] == "done"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    configure_logging("WARNING", False)
    assert tracing.active_provider() is None  # the lifespan's end shut it down, flushing the last spans
    spans = collector.spans[before:]
    connection = _one([s for s in spans if s.kind == SERVER], "WebSocket", **{"network.protocol.name": "websocket"})
    assert connection.name == "WS /v1/tutor/sessions/{session_id}/ws"
    turn_span = next(s for s in spans if s.name == "tutor.turn")
    assert turn_span.trace_id == connection.trace_id
    assert any(s.parent_span_id == turn_span.span_id and s.attributes.get("gen_ai.operation.name") for s in spans)


async def test_with_no_endpoint_nothing_is_installed_or_sent(settings: Settings, seeded: Any) -> None:
    assert not tracing.configured(settings)
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/health")
        assert response.status_code == 200
        assert "traceparent" not in response.headers
        assert tracing.active_provider() is None  # no SDK provider, no exporter, nothing to send
        assert isinstance(tracing.tracer(), trace.NoOpTracer)
        # OpenTelemetry's own global is left alone: still the API's proxy, no SDK provider behind it.
        assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
        # Zero cost: no statement hook on the engine, no tracing middleware around the app.
        engine = components_of(client.app).db.engine.sync_engine
        assert not event.contains(engine, "before_cursor_execute", tracing_hook())
        assert not isinstance(client.app.asgi_handler, TracingMiddleware)


def tracing_hook() -> Any:
    return tracing._before_cursor_execute  # the hook whose absence is the point
