"""Load test of a running Lyceum: the real journeys, and the rate limiter at work.

    uv run locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 30s --host http://127.0.0.1:8000

The journeys (``loadtests/journeys/``, see loadtests/README.md), each user its own fresh learner account:

* ``TutorChatter`` (weight 4): signs in, opens a lesson, chats with the tutor over WebSocket;
* ``SseChatter`` (weight 2): the same over server-sent events;
* ``FeedWatcher`` (weight 1): the demo instructor holding the live review feed open, counting events;
* ``Submitter`` (weight 2): works through to a short-answer assessment, submits and polls until graded;
* ``LtiLauncher`` (weight 1): an LMS learner's LTI 1.3 launch, the journey playing the LMS (``fake_lms.py``);
  needs ``LYCEUM_LTI_ALLOW_PRIVATE=true`` on the server (the fake LMS's key set is on loopback ``http://``).

``LYCEUM_LOAD_USERS`` (comma-separated class names) runs only those classes, e.g. ``Learner,LoginAttacker``
for the limiter demonstration below.

And the original two, the limiter demonstration:

* ``Learner`` (most users) logs in once per locust process as the demo learner, then browses
  ``GET /v1/courses`` and ``GET /v1/courses/{id}``. Every Learner shares that one account, so the
  per-user API bucket is the first to refuse: that is the point.
* ``LoginAttacker`` (few users) posts wrong passwords to ``POST /v1/auth/login``, to a fixed victim
  address (the per-user login bucket) and to random addresses (the org / global login buckets).

A 429 is the limiter doing its job, so it is recorded as a success under its own name,
``429 rate limited (<limiter>: <policy>)``: <limiter> is ``api`` or ``login``, <policy> the bucket
named in the response's ``RateLimit`` header (``user``, ``org``, ``global``; ``?`` if absent).
Only loopback hosts are accepted.

Environment: LYCEUM_DEMO_EMAIL (learner@demo.test), LYCEUM_DEMO_PASSWORD (lyceum-demo),
LYCEUM_DEMO_ORG (demo).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from journeys.common import is_loopback as _is_loopback
from journeys.common import rate_limited
from journeys.common import retry_after as _retry_after
from journeys.feed import FeedWatcher
from journeys.grading import Submitter
from journeys.lti import LtiLauncher
from journeys.sse import SseChatter
from journeys.tutor import TutorChatter
from locust import HttpUser, between, constant_pacing, task
from locust.clients import ResponseContextManager
from locust.exception import StopUser

DEFAULT_HOST = "http://127.0.0.1:8000"
EMAIL = os.environ.get("LYCEUM_DEMO_EMAIL", "learner@demo.test")
PASSWORD = os.environ.get("LYCEUM_DEMO_PASSWORD", "lyceum-demo")
ORG = os.environ.get("LYCEUM_DEMO_ORG", "demo")


def _rate_limited(response: ResponseContextManager, area: str) -> None:
    rate_limited(response, area)


class _Session:
    """One access token per locust process, shared by every Learner (logging in 50 times at once
    would just exercise the login limiter)."""

    lock = threading.Lock()  # gevent-cooperative: locust monkey-patches threading
    token: str | None = None
    course_ids: list[str] = []


class Learner(HttpUser):
    host = DEFAULT_HOST
    weight = 3
    wait_time = between(0.05, 0.5)

    def on_start(self) -> None:
        if not _is_loopback(self.host):
            raise StopUser
        self._login()

    def _login(self, stale: str | None = None) -> None:
        with _Session.lock:
            if _Session.token is not None and _Session.token != stale:
                return  # another Learner already logged in (again)
            for _ in range(5):
                with self.client.post(
                    "/v1/auth/login",
                    json={"email": EMAIL, "password": PASSWORD, "org": ORG},
                    name="POST /v1/auth/login",
                    catch_response=True,
                ) as response:
                    if 200 <= response.status_code < 300:
                        _Session.token = str(response.json()["access_token"])
                        response.success()
                        return
                    if response.status_code == 429:
                        _rate_limited(response, "login")
                        wait = _retry_after(response)
                    else:
                        response.failure(f"login failed: HTTP {response.status_code}")
                        raise StopUser
                time.sleep(min(wait, 30.0))
            raise StopUser

    def _get(self, path: str, name: str) -> Any:
        token = _Session.token
        with self.client.get(
            path, headers={"Authorization": f"Bearer {token}"}, name=name, catch_response=True
        ) as response:
            if response.status_code == 429:
                _rate_limited(response, "api")
                return None
            if response.status_code == 401:
                response.failure("401: access token rejected, logging in again")
                self._login(stale=token)
                return None
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return None
            response.success()
            return response.json()

    @task(3)
    def list_courses(self) -> None:
        body = self._get("/v1/courses", "GET /v1/courses")
        items = body.get("items", body.get("data", [])) if isinstance(body, dict) else body
        if isinstance(items, list):
            ids = [str(item.get("id") or item.get("slug")) for item in items if isinstance(item, dict)]
            if ids:
                _Session.course_ids = ids

    @task(5)
    def course_detail(self) -> None:
        if not _Session.course_ids:
            self.list_courses()
            return
        course_id = random.choice(_Session.course_ids)
        self._get(f"/v1/courses/{course_id}", "GET /v1/courses/{id}")


class LoginAttacker(HttpUser):
    """Wrong passwords, fast: 401 until the login limiter answers 429."""

    host = DEFAULT_HOST
    weight = 1
    wait_time = constant_pacing(0.2)

    def on_start(self) -> None:
        if not _is_loopback(self.host):
            raise StopUser

    def _attempt(self, email: str, name: str) -> None:
        with self.client.post(
            "/v1/auth/login",
            json={"email": email, "password": f"wrong-{uuid.uuid4().hex[:8]}", "org": ORG},
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code == 429:
                _rate_limited(response, "login")
            elif response.status_code in {400, 401, 403}:
                response.success()  # a refused password is the expected answer
            else:
                response.failure(f"wrong password got HTTP {response.status_code}")

    @task(3)
    def guess_victim(self) -> None:
        self._attempt(f"victim@{ORG}.test", "POST /v1/auth/login (wrong password, one account)")

    @task(1)
    def spray(self) -> None:
        self._attempt(f"spray-{uuid.uuid4().hex[:8]}@{ORG}.test", "POST /v1/auth/login (wrong password, many accounts)")


_ALL = {
    cls.__name__: cls for cls in (TutorChatter, SseChatter, FeedWatcher, Submitter, LtiLauncher, Learner, LoginAttacker)
}
_ONLY = [name.strip() for name in os.environ.get("LYCEUM_LOAD_USERS", "").split(",") if name.strip()]
if not _ONLY and os.environ.get("LYCEUM_LOAD_LTI", "") != "1":
    # LtiLauncher needs a server started with LYCEUM_LTI_ALLOW_PRIVATE=true (its fake LMS serves the key set on
    # loopback http), which `make dev` is not: it runs when asked for (LYCEUM_LOAD_LTI=1 or LYCEUM_LOAD_USERS).
    _ONLY = [name for name in _ALL if name != "LtiLauncher"]
if _ONLY:
    # locust runs every HttpUser class defined or imported here; the ones not asked for are dropped.
    for _name in set(_ALL) - set(_ONLY):
        del globals()[_name]

if os.environ.get("LYCEUM_LOAD_STEPS"):
    from locust import LoadTestShape, events
    from step_percentiles import StepPercentiles

    class StepLoad(LoadTestShape):
        """Saturation runs (docs/load-testing.md): LYCEUM_LOAD_STEPS="10,25,50,100" users, each step held
        LYCEUM_LOAD_STEP_SECONDS (default 45), spawned LYCEUM_LOAD_SPAWN_RATE a second (default 5); the HTML
        report is written to LYCEUM_LOAD_STEP_REPORT when the last step ends."""

        steps = [int(users) for users in os.environ["LYCEUM_LOAD_STEPS"].split(",")]
        seconds = float(os.environ.get("LYCEUM_LOAD_STEP_SECONDS", "45"))
        rate = float(os.environ.get("LYCEUM_LOAD_SPAWN_RATE", "5"))

        report = os.environ.get("LYCEUM_LOAD_STEP_REPORT", "")
        reported = False
        # Per-step percentiles per request name (step_percentiles.py), written as
        # <--csv prefix>_step_percentiles.csv when the last step ends.
        percentiles = StepPercentiles(steps)
        current: StepLoad | None = None
        percentiles_written = False

        def step_now(self) -> int:
            return int(self.get_run_time() // self.seconds)

        def tick(self) -> tuple[int, float] | None:
            StepLoad.current = self
            step = self.step_now()
            if step < len(self.steps):
                return (self.steps[step], self.rate)
            prefix = getattr(self.runner.environment.parsed_options, "csv_prefix", None)
            if prefix and not self.percentiles_written:
                self.percentiles.write(Path(f"{prefix}_step_percentiles.csv"))
                StepLoad.percentiles_written = True
            if self.report and not self.reported:
                # The HTML report as the last step ends, before users are stopped: stopping hundreds of
                # users blocked in WebSocket reads has crashed gevent's event loop (libev EBADF assertion)
                # before locust's own --html report was written.
                from locust.html import get_html_report

                Path(self.report).write_text(get_html_report(self.runner.environment, show_download_link=False))
                self.reported = True
            return None

    @events.request.add_listener
    def _per_step(
        request_type: str, name: str, response_time: float, exception: BaseException | None = None, **_: Any
    ) -> None:
        if StepLoad.current is not None:
            step = StepLoad.current.step_now()
            StepLoad.percentiles.record(step, request_type, name, response_time, exception is not None)
