"""Two real API processes on one database and one Redis (issue 15, item 3): what `lyceum up` runs on a
2-core machine, and what a load balancer in front of several hosts does without sticky sessions.

Both processes are started once for the module, as `lyceum up` starts each of its API processes
(``python -m app.server.api_process``: uvicorn listening with SO_REUSEPORT), but on a port each, so a
test decides which process serves which request. Nothing is shared between them but PostgreSQL, Redis
and the secret key: a tutor session started on one continues on the other, a feed subscriber on one
receives what the other publishes, and concurrent tutor turns split over both never spend more than
the budget. Every wait is on a condition; the deadlines only bound a run that has already failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from app.config import load_settings
from app.lib.events import TUTOR_SESSION_STARTED
from app.lib.redis import create_redis
from app.server.api_process import api_process_argv
from app.server.embedded import free_port
from app.server.supervisor import die_with_parent
from tests.support.feed import frame, until_ready, ws
from tests.support.stack import DEMO_PASSWORD, bearer_for, settings_env
from tests.support.tutor_api import collect, login, new_session, ws_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 300.0  # seconds; bounds a failing run only (two API processes starting on a loaded machine)


class ApiProcess:
    """One API process, started as `lyceum up` starts each of its own (app/cli.py, cmd_up)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        argv = api_process_argv(load_settings(env), "127.0.0.1", self.port)  # as `lyceum up` builds it
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()
            )

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + DEADLINE
        while True:
            assert self.process.poll() is None, f"API process exited:\n{self.log_path.read_text()[-4000:]}"
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"API process not healthy:\n{self.log_path.read_text()[-4000:]}"
            time.sleep(0.2)

    def wait_stopped(self) -> None:
        """After SIGTERM: a clean exit, else a kill."""
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def api_pair(
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_data_dir: Path,
    seeded: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    """Two API processes on this run's database and Redis prefix, with the test settings."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LYCEUM_", "ANTHROPIC_")) and k not in ("DATABASE_URL", "REDIS_URL", "CHROMA_URL")
    }
    # The offline tutor streams with a pause between chunks, so the budget test's turns overlap in time.
    env = {**inherited, **settings_env(database_url, redis_url, redis_prefix, tmp_data_dir)}
    env["LYCEUM_TUTOR_OFFLINE_CHUNK_DELAY_MS"] = "5"
    logs = tmp_path_factory.mktemp("api-processes")
    started = time.monotonic()
    processes = [ApiProcess(env, logs / f"api-{n}.log") for n in (1, 2)]  # both start at once
    try:
        for process in processes:
            process.wait_healthy()
        # Shown with -s: what the module adds to the suite before its first test (docs/perf-notes).
        print(f"two API processes healthy after {time.monotonic() - started:.1f} s")
        yield processes[0].url, processes[1].url
    finally:
        for process in processes:
            process.process.terminate()  # both shut down at once
        for process in processes:
            process.wait_stopped()


UVICORN_DEFAULT_KEEPALIVE_SECONDS = 5


def _get_health(connection: socket.socket) -> bytes:
    """One ``GET /health`` on an open connection; the raw answer (short or empty when the server had closed it)."""
    connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while (end := answer.find(b"\r\n\r\n")) < 0 or len(answer) < end + 4 + _content_length(answer[:end]):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_a_client_that_pauses_longer_than_uvicorns_default_keeps_its_connection(api_pair: tuple[str, str]) -> None:
    """A client (a load balancer, a browser, locust) reuses an idle keep-alive connection after a pause. With
    uvicorn's default keep-alive (5 s), the API closed connections just as clients paused that long and sent
    again: they read a reset, not an answer (docs/load-testing.md, HTTP 0). The API processes keep an idle
    connection ``LYCEUM_HTTP_KEEPALIVE_SECONDS`` (75 s by default), so the second request on the same
    connection, sent after a pause past uvicorn's default, is answered. (The pause is only a pause: nothing
    here is timed.)"""
    port = int(api_pair[0].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        assert _get_health(connection).startswith(b"HTTP/1.1 200")
        time.sleep(UVICORN_DEFAULT_KEEPALIVE_SECONDS + 2)
        assert _get_health(connection).startswith(b"HTTP/1.1 200"), "the idle connection was closed"


def turn_over_http(url: str, session: dict[str, Any], headers: dict[str, str], text: str, message_id: str) -> str:
    response = httpx.post(
        f"{url}{session['messages_url']}", headers=headers, json={"text": text, "id": message_id}, timeout=60
    )
    assert response.status_code == 200, response.text
    return str(response.json()["reply"])


async def turn_over_socket(url: str, session: dict[str, Any], headers: dict[str, str], text: str, mid: str) -> str:
    async with connect(ws_url(url, session), additional_headers=headers) as tutor:
        await tutor.send(json.dumps({"type": "message", "id": mid, "text": text}))
        events = await collect(tutor, until=("done", "blocked", "error"))
    assert events[-1]["type"] == "done", events[-1]
    return "".join(e["text"] for e in events if e["type"] == "delta")


async def test_a_tutor_session_started_on_one_process_continues_on_the_other(api_pair: tuple[str, str]) -> None:
    """The offline tutor reads the hint level back from the stored transcript: hints 1, 2, 3 across
    A (HTTP), B (WebSocket), A again prove each process continues from what the other recorded. A
    message id already answered on A and resent to B is answered from the record, not run again."""
    a, b = api_pair
    learner = login(a, "learner@demo.test")  # a token from A is good on B: one key, one denylist
    session = new_session(a, learner, kind="exercise")
    texts = ["I'm stuck.", "I still don't get it.", "Can I have another hint?"]
    replies = [turn_over_http(a, session, learner, texts[0], "p1")]
    replies.append(await turn_over_socket(b, session, learner, texts[1], "p2"))
    replies.append(turn_over_http(a, session, learner, texts[2], "p3"))
    for level, reply in enumerate(replies, 1):
        assert f"**Hint {level} of " in reply, reply
    assert turn_over_http(b, session, learner, texts[0], "p1") == replies[0]  # replayed, not re-run
    transcript = httpx.get(f"{b}/v1/tutor/sessions/{session['id']}", headers=learner).json()
    assert [t["user"] for t in transcript["turns"]] == [
        "I'm stuck.",
        "I still don't get it.",
        "Can I have another hint?",
    ]
    assert [t["reply"] for t in transcript["turns"]] == replies


async def started_event(feed: Any, session_id: str) -> dict[str, Any]:
    while True:
        message = await frame(feed, wait=60)
        if message["type"] == TUTOR_SESSION_STARTED and message["data"]["session_id"] == session_id:
            return message


async def test_a_feed_subscriber_on_one_process_receives_events_published_on_the_other(
    api_pair: tuple[str, str],
) -> None:
    """A session started on A reaches an instructor connected to B (and the one on A), and the other
    way round: each process's hub is fed from Redis, not from its own publishes."""
    a, b = api_pair
    learner = login(a, "learner@demo.test")
    instructor = login(b, "instructor@demo.test")
    async with (
        connect(ws(a, "limit=0"), additional_headers=instructor) as feed_a,
        connect(ws(b, "limit=0"), additional_headers=instructor) as feed_b,
    ):
        await until_ready(feed_a)
        await until_ready(feed_b)
        for publisher in (a, b):
            session = new_session(publisher, learner)
            seen = await asyncio.gather(started_event(feed_a, session["id"]), started_event(feed_b, session["id"]))
            assert seen[0]["id"] == seen[1]["id"]  # one event, one id, whichever process delivers it


async def test_concurrent_turns_over_both_processes_never_overspend_the_budget(
    api_pair: tuple[str, str], redis_url: str, redis_prefix: str
) -> None:
    """A fresh learner's daily budget allows about two turns; eight start at once, four on each process.
    Redis's reserve/settle scripts are the only arbiter: whatever each process believes, the learner's
    charged tokens stay within the limit, equal what the finished turns report, and no hold is left."""
    a, b = api_pair
    admin = login(a, "admin@demo.test")
    email = f"budget-{uuid.uuid4().hex[:10]}@demo.test"
    created = httpx.post(
        f"{a}/v1/users",
        headers=admin,
        json={"email": email, "name": "Bud Get", "roles": ["learner"], "password": DEMO_PASSWORD + "-1"},
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    learner = bearer_for(b, email, "demo", DEMO_PASSWORD + "-1")
    key = f"{redis_prefix}budget:user:{user_id}:{datetime.now(UTC).strftime('%Y-%m-%d')}"
    redis = create_redis(redis_url)
    configured = httpx.get(f"{a}/v1/admin/budgets", headers=admin).json()["configured"]
    try:
        # One turn with the default budget: what a turn costs (its input is the same for every session).
        probe = new_session(a, learner)
        async with connect(ws_url(a, probe), additional_headers=learner) as tutor:
            await tutor.send(json.dumps({"type": "message", "id": "probe", "text": "What is this lesson about?"}))
            done = (await collect(tutor))[-1]
        assert done["type"] == "done", done
        cost = done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
        spent_before = await settled(redis, key)
        limit = spent_before + cost * 5 // 2
        put = httpx.put(f"{a}/v1/admin/budgets", headers=admin, json={**configured, "user_daily_tokens": limit})
        assert put.status_code == 200, put.text

        sessions = [new_session(url, learner) for url in (a, b) * 4]
        urls = [a, b] * 4

        async def turn(url: str, session: dict[str, Any], n: int) -> dict[str, Any]:
            async with connect(ws_url(url, session), additional_headers=learner) as tutor:
                await tutor.send(json.dumps({"type": "message", "id": f"c{n}", "text": "Explain this lesson."}))
                return (await collect(tutor))[-1]

        ends = await asyncio.gather(*(turn(url, s, n) for n, (url, s) in enumerate(zip(urls, sessions, strict=True))))
        finished = [e for e in ends if e["type"] == "done"]
        refused = [e for e in ends if e["type"] == "blocked" and e.get("policy") == "budget"]
        assert len(finished) + len(refused) == len(ends), ends
        assert finished, "the budget allows at least one turn"
        assert refused, "eight turns of this size cannot all fit"
        reported = sum(e["usage"]["input_tokens"] + e["usage"]["output_tokens"] for e in finished)
        used = await settled(redis, key)
        assert used == spent_before + reported, (used, spent_before, reported)
        assert used <= limit, f"overspent: {used} > {limit}"
    finally:
        httpx.put(f"{a}/v1/admin/budgets", headers=admin, json=configured)
        await redis.aclose()


async def settled(redis: Redis, key: str) -> int:
    """The scope's charged tokens once no hold is left (a turn settles just after its last frame)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        used, reserved = await redis.hmget(key, "used", "reserved")
        if int(reserved or 0) == 0:
            return int(used or 0)
        assert time.monotonic() < deadline, f"holds left on {key}: {reserved}"
        await asyncio.sleep(0.1)
