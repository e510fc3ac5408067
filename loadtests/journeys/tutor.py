"""Learners who sign in, open a lesson and chat with the tutor: over WebSocket (``TutorChatter``) and
over server-sent events (``SseChatter``), the two transports of docs/tutor.md.

Each reply is recorded as two custom requests, so locust's tables and charts carry the latency a learner
feels: ``tutor first token`` (message sent → first ``delta``) and ``tutor full reply`` (message sent →
``done``), request type ``WS`` or ``SSE``. Refusals are the tutor working as configured, so they are
successes under names of their own: ``tutor blocked (<policy>)`` (budget, guardrails) and
``tutor refused (<code>)`` for the retryable ``error`` events (``rate_limited``, ``overloaded``). Any
other ``error`` event, an unexpected close or a reply without ``done`` is a failure.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

from locust import between, task
from locust.exception import StopUser
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection

from journeys.common import (
    LyceumUser,
    StreamError,
    fire,
    new_learner,
    open_course,
    open_lesson,
    open_socket,
    ws_url,
)

QUESTIONS = (
    "Why do we cache at all?",
    "What is a cache stampede and how do I avoid it?",
    "I still don't get it, another hint please",
    "Can you give me an example of the second one?",
    "Why does the TTL need jitter?",
    "What should happen when the cache and the database disagree?",
)
RETRYABLE = {"rate_limited", "overloaded", "unavailable", "timeout"}  # the server asks us to come back later
REPLY_DEADLINE = 120.0  # seconds; bounds a stuck reply only


class Turn:
    """Milestones of one reply, recorded as locust requests when the reply ends."""

    def __init__(self, user: LyceumUser, request_type: str) -> None:
        self.user = user
        self.request_type = request_type
        self.started = time.perf_counter()
        self.first_token: float | None = None
        self.length = 0
        self.pause = 0.0  # how long the server asked us to wait (retry_after, resets_at)

    def event(self, kind: str, data: dict[str, Any]) -> bool:
        """Handle one stream event; True once the reply is over."""
        env = self.user.environment
        if kind == "delta":
            if self.first_token is None:
                self.first_token = time.perf_counter()
                fire(env, self.request_type, "tutor first token", self.started)
            self.length += len(str(data.get("text", "")))
            return False
        if kind == "done":
            if self.first_token is None:  # a reply without text still answered: record both milestones
                fire(env, self.request_type, "tutor first token", self.started)
            fire(env, self.request_type, "tutor full reply", self.started, self.length)
            return True
        if kind == "blocked":
            fire(env, self.request_type, f"tutor blocked ({data.get('policy', '?')})", self.started)
            self.pause = 30.0 if data.get("policy") == "budget" else 1.0
            return True
        if kind == "error":
            code = str(data.get("code", "?"))
            if code in RETRYABLE:
                fire(env, self.request_type, f"tutor refused ({code})", self.started)
                try:
                    self.pause = max(1.0, float(data.get("retry_after") or 2.0))
                except (TypeError, ValueError):
                    self.pause = 2.0
            else:
                fire(env, self.request_type, "tutor reply", self.started, exception=StreamError(f"error {code}"))
            return True
        return False  # ping or a future event type: not part of this reply

    def broken(self, why: str) -> None:
        fire(self.user.environment, self.request_type, "tutor reply", self.started, exception=StreamError(why))


class TutorLearner(LyceumUser):
    """Sign in as a fresh learner, enroll, open a lesson, start a tutor conversation on it."""

    abstract = True
    wait_time = between(2, 6)  # a person reads the reply and types the next question
    session: dict[str, Any]

    def on_start(self) -> None:
        super().on_start()
        new_learner(self)
        course, items = open_course(self)
        lesson = next((i for i in items if i.get("kind") == "lesson"), items[0])
        open_lesson(self, course["id"], lesson["id"])
        self.session = self.until_ok(
            lambda: self.call(
                "POST",
                "/v1/tutor/sessions",
                "POST /v1/tutor/sessions",
                json={"course_id": course["id"], "item_id": lesson["id"], "mode": "socratic", "resume": True},
            )
        )


class TutorChatter(TutorLearner):
    """Chats over the WebSocket (``GET /v1/tutor/sessions/{id}/ws``), one socket per learner."""

    weight = 4
    socket: ClientConnection | None = None

    def _connect(self) -> ClientConnection:
        if self.socket is None:
            started = time.perf_counter()
            url = ws_url(self.host or "", f"/v1/tutor/sessions/{self.session['id']}/ws")
            try:
                self.socket = open_socket(url, self.auth)
            except (OSError, WebSocketException) as exc:
                fire(self.environment, "WS", "connect /v1/tutor/sessions/{id}/ws", started, exception=exc)
                raise StopUser from exc
            fire(self.environment, "WS", "connect /v1/tutor/sessions/{id}/ws", started)
        return self.socket

    @task
    def ask(self) -> None:
        socket = self._connect()
        message_id = uuid.uuid4().hex
        turn = Turn(self, "WS")
        try:
            socket.send(json.dumps({"type": "message", "id": message_id, "text": random.choice(QUESTIONS)}))
            deadline = time.monotonic() + REPLY_DEADLINE
            while True:
                frame = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
                if frame.get("message_id") not in (None, message_id):
                    continue  # a late frame of an earlier reply
                if turn.event(str(frame.get("type")), frame):
                    break
        except TimeoutError:
            turn.broken("no done within the deadline")
            self._drop()
        except (OSError, WebSocketException, ValueError) as exc:
            turn.broken(f"socket: {exc!r}"[:200])
            self._drop()
        if turn.pause:
            time.sleep(turn.pause)

    def _drop(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def on_stop(self) -> None:
        self._drop()
