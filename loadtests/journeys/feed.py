"""Instructors holding the live review feed open (``GET /v1/review/feed`` WebSocket, docs/events.md).

Each ``FeedWatcher`` connects as the demo instructor, waits for the ``ready`` frame (after the replay),
then holds the socket for ``LYCEUM_LOAD_FEED_HOLD_SECONDS`` (default 30) counting live events, the way
an instructor keeps the review page open. Recorded (request type ``WS``):

* ``feed ready`` — connect → ``ready`` frame (the replay's cost), length = events replayed;
* ``feed event`` — one row per live event received, its time the age of the event (server ``at`` →
  received), so the percentiles say how stale the feed runs under load;
* ``feed held`` — one per completed hold, length = live events counted.

A close by the server during the hold (4408 slow consumer, 1013 try again) or no ``ready`` is a failure.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime

from locust import between, task
from locust.exception import StopUser
from websockets.exceptions import WebSocketException

from journeys.common import INSTRUCTOR_EMAIL, LyceumUser, StreamError, fire, open_socket, ws_url

HOLD_SECONDS = float(os.environ.get("LYCEUM_LOAD_FEED_HOLD_SECONDS", "30"))


class _Instructor:
    """One sign-in per locust process shared by every watcher (they are all the demo instructor, and the
    per-user login bucket allows 5 a minute)."""

    lock = threading.Lock()  # gevent-cooperative under locust
    token: str | None = None


def _age_ms(at: object) -> float:
    try:
        sent = datetime.fromisoformat(str(at).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
    return max(0.0, (time.time() - sent) * 1000.0)


class FeedWatcher(LyceumUser):
    weight = 1
    wait_time = between(1, 3)
    live_events = 0

    def on_start(self) -> None:
        super().on_start()
        with _Instructor.lock:
            if _Instructor.token is None:
                _Instructor.token = self.sign_in(INSTRUCTOR_EMAIL)
        self.token = _Instructor.token

    @task
    def hold_feed(self) -> None:
        env = self.environment
        started = time.perf_counter()
        url = ws_url(self.host or "", "/v1/review/feed?limit=20")
        try:
            with open_socket(url, self.auth) as socket:
                replayed = 0
                while True:
                    frame = json.loads(socket.recv(timeout=60))
                    if frame.get("type") == "ready":
                        replayed = int(frame.get("replayed", 0))
                        break
                fire(env, "WS", "feed ready", started, replayed)
                held_since = time.perf_counter()
                counted = 0
                while (left := HOLD_SECONDS - (time.perf_counter() - held_since)) > 0:
                    try:
                        frame = json.loads(socket.recv(timeout=left))
                    except TimeoutError:
                        break
                    if frame.get("type") in ("ping", "ready"):
                        continue
                    counted += 1
                    env.events.request.fire(
                        request_type="WS",
                        name="feed event",
                        response_time=_age_ms(frame.get("at")),
                        response_length=len(json.dumps(frame)),
                        exception=None,
                        context={},
                    )
                FeedWatcher.live_events += counted
                fire(env, "WS", "feed held", held_since, counted)
        except TimeoutError:
            fire(env, "WS", "feed ready", started, exception=StreamError("no ready frame within 60 s"))
        except (OSError, WebSocketException, ValueError) as exc:
            fire(env, "WS", "feed held", started, exception=StreamError(f"feed: {exc!r}"[:200]))
            if isinstance(exc, WebSocketException) and "4401" in str(exc):
                raise StopUser from exc
