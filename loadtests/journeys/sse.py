"""Learners who chat with the tutor over server-sent events, the WebSocket's fallback (docs/tutor.md):
``POST /v1/tutor/sessions/{id}/messages`` with ``Accept: text/event-stream``, one request per question.

The reply is recorded like the WebSocket's (``tutor first token``, ``tutor full reply``, request type
``SSE``), refusals under their own names (see ``loadtests.journeys.tutor``).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

from locust import task

from journeys.common import rate_limited
from journeys.tutor import QUESTIONS, Turn, TutorLearner


def _sse_events(lines: Iterator[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a text/event-stream; comments (``: ping``) skipped."""
    kind, data = "message", ""
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if not line:
            if data:
                yield kind, json.loads(data)
            kind, data = "message", ""
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


class SseChatter(TutorLearner):
    """Chats over server-sent events (``POST /v1/tutor/sessions/{id}/messages``), the WebSocket fallback."""

    weight = 2

    @task
    def ask(self) -> None:
        turn = Turn(self, "SSE")
        path = f"/v1/tutor/sessions/{self.session['id']}/messages"
        body = {"text": random.choice(QUESTIONS), "id": uuid.uuid4().hex}
        headers = {**self.auth, "Accept": "text/event-stream"}
        name = "POST /v1/tutor/sessions/{id}/messages"
        request = self.client.post(path, json=body, headers=headers, stream=True, catch_response=True, name=name)
        with request as response:
            if response.status_code == 429:
                rate_limited(response, "tutor")
                time.sleep(2.0)
                return
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            response.success()  # the stream opened; the reply's milestones are recorded below
            try:
                for kind, data in _sse_events(response.iter_lines(delimiter=b"\n")):
                    if turn.event(kind, data):
                        break
                else:
                    turn.broken("stream ended without done")
            except (OSError, ValueError) as exc:
                turn.broken(f"stream: {exc!r}"[:200])
        if turn.pause:
            time.sleep(turn.pause)
