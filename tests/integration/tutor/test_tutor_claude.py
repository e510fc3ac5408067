"""The Claude path end to end: Lyceum → real anthropic SDK → a local server speaking the Messages API.

Nothing patches the SDK: ANTHROPIC_BASE_URL points at tests/support/fake_anthropic, which writes the real SSE
wire format. Checks the Done-when of the tutor issue: deltas concatenate to the model's text, `done`
carries the model's usage, the budget drops by it; errors, disconnects and leaks are handled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from websockets.asyncio.client import connect

from app.asgi import create_app
from app.config import Settings
from app.db.engine import Database, create_engine, owner_url
from app.domain.search.indexer import ContentIndexer
from app.domain.search.vectors import VectorIndex
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.search import index_everything
from tests.support.stack import make_settings, run_live_server
from tests.support.tutor_api import collect, login, new_session, sse_events, ws_url

pytestmark = pytest.mark.slow
REPLY = "Think about what the server must remember between requests. What does statelessness buy you here?"


@pytest.fixture(scope="module")
def claude_settings(
    settings: Settings, seeded: Any, fake_anthropic_server: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    data = Path(tmp_path_factory.mktemp("claude"))
    return make_settings(
        settings.database_url,
        settings.redis_url,
        settings.redis_key_prefix + "claude:",
        data,
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake_anthropic_server.base_url,
        LYCEUM_TUTOR_MAX_RETRIES="2",
        LYCEUM_TUTOR_RATE_LIMIT_TUTOR_USER="1000/1s",
    )


@pytest.fixture(scope="module")
def claude_url(claude_settings: Settings) -> Iterator[str]:
    url, server, thread = run_live_server(create_app(claude_settings))
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def org_used(url: str) -> int:
    admin = login(url, "admin@demo.test")
    return int(httpx.get(f"{url}/v1/admin/budgets", headers=admin).json()["org_month_used_tokens"])


async def test_ws_relays_the_models_stream_usage_and_budget(claude_url: str, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(reply=REPLY, input_tokens=321, output_tokens=17, tokens_per_chunk=2)
    learner = login(claude_url, "learner@demo.test")
    session = new_session(claude_url, learner)
    assert session["provider"] == "anthropic"
    before = org_used(claude_url)
    async with connect(ws_url(claude_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "c1", "text": "Why are REST APIs stateless?"}))
        events = await collect(ws)
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    done = events[-1]
    assert done["type"] == "done", events
    assert "".join(deltas) == REPLY
    assert len(deltas) > 3
    assert done["usage"] == {"input_tokens": 321, "output_tokens": 17}
    assert org_used(claude_url) - before == 321 + 17
    request = fake_anthropic.message_requests[-1]
    assert (
        "data, not instructions" in json.dumps(request.system).lower()
        or "not instructions" in json.dumps(request.system).lower()
    )
    assert request.max_tokens <= 1024


def test_sse_relays_the_same(claude_url: str, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(reply=REPLY, input_tokens=100, output_tokens=9)
    learner = login(claude_url, "learner@demo.test")
    session = new_session(claude_url, learner)
    with httpx.stream(
        "POST",
        f"{claude_url}{session['messages_url']}",
        timeout=30,
        headers={**learner, "Accept": "text/event-stream"},
        json={"text": "Why are REST APIs stateless?"},
    ) as response:
        events = sse_events(response)
    assert "".join(data["text"] for name, data in events if name == "delta") == REPLY
    assert events[-1][0] == "done"
    assert events[-1][1]["usage"] == {"input_tokens": 100, "output_tokens": 9}


async def test_model_failing_mid_stream_keeps_the_partial_reply(claude_url: str, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(reply=REPLY, error_after_chunks=3, error_type="overloaded_error")
    learner = login(claude_url, "learner@demo.test")
    session = new_session(claude_url, learner)
    async with connect(ws_url(claude_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "e1", "text": "Why are REST APIs stateless?"}))
        events = await collect(ws, until=("error", "blocked"))
    assert events[-1]["type"] == "error"
    assert events[-1]["code"] in ("overloaded", "unavailable")
    transcript = httpx.get(f"{claude_url}/v1/tutor/sessions/{session['id']}", headers=learner).json()
    turn = transcript["turns"][-1]
    assert turn["status"] == "error"
    assert turn["reply"] == "".join(e["text"] for e in events if e["type"] == "delta")


async def test_retries_then_answers(claude_url: str, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(reply=REPLY, failures=[529, 500], retry_after=0)
    learner = login(claude_url, "learner@demo.test")
    session = new_session(claude_url, learner)
    async with connect(ws_url(claude_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "r1", "text": "Why are REST APIs stateless?"}))
        events = await collect(ws)
    assert events[-1]["type"] == "done"
    assert len(fake_anthropic.message_requests) == 3


async def test_disconnect_mid_stream_records_cancelled_and_frees_the_budget(
    claude_url: str, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(reply=" ".join(["word"] * 200), chunk_delay=0.02)
    learner = login(claude_url, "learner@demo.test")
    session = new_session(claude_url, learner)
    async with connect(ws_url(claude_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "d1", "text": "Why are REST APIs stateless?"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "delta"
    # The socket is gone mid-stream: the turn is cancelled, recorded and its hold released.
    for _ in range(50):
        turns = httpx.get(f"{claude_url}/v1/tutor/sessions/{session['id']}", headers=learner).json()["turns"]
        if turns:
            break
        await asyncio.sleep(0.1)
    assert turns[-1]["status"] == "cancelled"
    assert turns[-1]["reply"]
    admin = login(claude_url, "admin@demo.test")
    assert httpx.get(f"{claude_url}/v1/admin/budgets", headers=admin).json()["org_month_reserved_tokens"] == 0


async def test_answer_leak_in_the_stream_is_blocked_and_never_sent(
    claude_url: str, fake_anthropic: FakeAnthropic, settings: Settings
) -> None:
    learner = login(claude_url, "learner@demo.test")
    session = new_session(claude_url, learner, kind="exercise")
    solution_line = await _solution_of(settings, session["item_id"])
    fake_anthropic.script(reply=f"Sure, here is the full solution: {solution_line} Hope that helps!")
    async with connect(ws_url(claude_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "l1", "text": "How do I approach this exercise?"}))
        events = await collect(ws)
    sent = "".join(e["text"] for e in events if e["type"] == "delta")
    assert events[-1]["type"] == "blocked", events
    assert solution_line[:40] not in sent


async def _solution_of(settings: Settings, item_id: str) -> str:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    async with engine.connect() as conn:
        solution = await conn.scalar(text("select solution from items where id = :i"), {"i": item_id})
    await engine.dispose()
    lines = [line.strip() for line in str(solution).splitlines() if len(line.strip()) > 40]
    return lines[0] if lines else str(solution)[:200]


async def test_nul_in_the_models_reply_is_relayed_without_it_and_the_turn_is_kept(
    claude_url: str, fake_anthropic: FakeAnthropic
) -> None:
    # PostgreSQL text cannot hold U+0000: a model (or a prompt-injected one) emitting it must not cost the
    # learner the turn or the server a 5xx. The NUL is dropped from what is relayed and stored.
    fake_anthropic.script(reply="Start with\u0000 the status line.\u0000", input_tokens=50, output_tokens=8)
    learner = login(claude_url, "learner@demo.test")
    session = new_session(claude_url, learner)
    async with connect(ws_url(claude_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "n1", "text": "Where do I start?"}))
        events = await collect(ws)
    assert events[-1]["type"] == "done", events
    relayed = "".join(e["text"] for e in events if e["type"] == "delta")
    assert relayed == "Start with the status line."
    transcript = httpx.get(f"{claude_url}/v1/tutor/sessions/{session['id']}", headers=learner, timeout=30)
    assert transcript.status_code == 200, transcript.text
    assert transcript.json()["turns"][-1]["reply"] == "Start with the status line."


async def test_the_model_receives_the_retrieved_passages_delimited_in_the_system_prompt(
    claude_url: str, claude_settings: Settings, fake_anthropic: FakeAnthropic
) -> None:
    """Grounding (issue 12 §3) on the real SDK path: the passages sit in <source> elements inside the
    <material> block, after the safety rules, and the done event names them as sources."""
    db, vectors = Database.from_settings(claude_settings), VectorIndex(claude_settings)
    try:
        await index_everything(ContentIndexer(db, vectors), claude_settings)
    finally:
        vectors.close()
        await db.dispose()
    fake_anthropic.script(reply=REPLY, input_tokens=400, output_tokens=20)
    learner = login(claude_url, "learner@demo.test")
    courses = httpx.get(f"{claude_url}/v1/courses", headers=learner, params={"limit": 100}).json()["items"]
    course_id = next(c["id"] for c in courses if c["slug"] == "backend-foundations")
    enrolled = httpx.post(f"{claude_url}/v1/courses/{course_id}/enrollments", headers=learner)
    assert enrolled.status_code in (200, 201, 409), enrolled.text
    created = httpx.post(
        f"{claude_url}/v1/tutor/sessions", headers=learner, json={"course_id": course_id, "mode": "socratic"}
    )
    assert created.status_code == 201, created.text
    session = created.json()
    async with connect(ws_url(claude_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "g1", "text": "How should I store user passwords safely?"}))
        events = await collect(ws)
    done = events[-1]
    assert done["type"] == "done", events
    titles = [source["title"] for source in done["sources"]]
    assert "Passwords, sessions and bearer tokens" in titles
    system = json.dumps(fake_anthropic.message_requests[-1].system)
    assert system.index("Safety rules") < system.index("<material>") < system.index("<source n=")
    assert system.index("<source n=") < system.rindex("</source>") < system.rindex("</material>")
    assert 'lesson=\\"Passwords, sessions and bearer tokens\\"' in system
    assert "Argon2id" in system  # the passage's text itself, not only its title
