"""What every journey shares: loopback-only hosts, signing in, many learners, and how answers are named.

Naming (one locust row per name, so the tables read as a breakdown of what the server answered):

* an endpoint's success is recorded under its route (``GET /v1/courses/{id}``);
* a 429 is the limiter doing its job: a **success** under ``429 rate limited (<area>: <policy>)``, the
  policy read from the response's ``RateLimit`` header (``user``, ``org``, ``global``; ``?`` if absent);
* a tutor refusal (budget, guardrail, the tutor's own rate limit) is a success under its own name too
  (``tutor blocked (budget)``, ``tutor refused (rate_limited)``), recorded by the tutor journeys;
* everything else is a failure of the endpoint: any 5xx, an unexpected 4xx, a broken stream.

Learners: every simulated learner is its own account (``load-<run>-<n>@demo.test``), created through the
admin API (``POST /v1/users``) by the demo admin, so the per-user buckets and budgets are per simulated
person as in real use. The demo admin signs in once per locust process.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from locust import HttpUser, events
from locust import stats as locust_stats
from locust.clients import ResponseContextManager
from locust.env import Environment
from locust.exception import StopUser
from websockets.sync.client import ClientConnection, connect

DEFAULT_HOST = "http://127.0.0.1:8000"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ORG = os.environ.get("LYCEUM_DEMO_ORG", "demo")
PASSWORD = os.environ.get("LYCEUM_DEMO_PASSWORD", "lyceum-demo")
ADMIN_EMAIL = os.environ.get("LYCEUM_DEMO_ADMIN_EMAIL", f"admin@{ORG}.test")
INSTRUCTOR_EMAIL = os.environ.get("LYCEUM_DEMO_INSTRUCTOR_EMAIL", f"instructor@{ORG}.test")
# Fresh accounts per run (a run id in the address): a rerun against the same `lyceum up` starts with
# full token budgets instead of the previous run's spent ones.
RUN_ID = os.environ.get("LYCEUM_LOAD_RUN_ID") or uuid.uuid4().hex[:8]
COURSE_SLUG = os.environ.get("LYCEUM_LOAD_COURSE", "scalable-systems")
_POLICY = re.compile(r'^\s*"([^"\\]*)"')
_serial = itertools.count(1)


def is_loopback(host: str | None) -> bool:
    return (urlsplit(host or DEFAULT_HOST).hostname or "") in LOOPBACK


def _refuse_remote_hosts(environment: Environment, **_: Any) -> None:
    if not is_loopback(environment.host):
        print(f"loadtests: refusing to target {environment.host!r}: only loopback hosts are allowed")
        if environment.runner is not None:
            environment.runner.quit()


events.test_start.add_listener(_refuse_remote_hosts)


def ws_url(http_url: str, path: str) -> str:
    parts = urlsplit(http_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{path}"


def open_socket(url: str, headers: dict[str, str]) -> ClientConnection:
    """A WebSocket as a browser holds it: the server pings (LYCEUM_WS_PING_INTERVAL_SECONDS) and the client
    only answers. A client-side keepalive would add pings browsers never send, and on a starved load
    generator it closes sockets itself (1011 keepalive ping timeout) when its own pong handling lags."""
    return connect(url, additional_headers=headers, open_timeout=60, max_size=2**20, ping_interval=None)


def retry_after(response: ResponseContextManager) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def rate_limited(response: ResponseContextManager, area: str) -> None:
    """Record a 429 as a success named after the limiter and refusing policy: "429 rate limited (api: user)"."""
    match = _POLICY.match(response.headers.get("RateLimit", ""))
    policy = match.group(1) if match else "?"
    meta = response.request_meta
    if isinstance(meta, dict):  # locust reports the request under request_meta["name"] on exit
        meta["name"] = f"429 rate limited ({area}: {policy})"
    response.success()


def fire(
    environment: Environment,
    request_type: str,
    name: str,
    started: float,
    length: int = 0,
    exception: BaseException | None = None,
) -> None:
    """A custom locust request (a WebSocket or stream milestone): ``started`` from time.perf_counter()."""
    environment.events.request.fire(
        request_type=request_type,
        name=name,
        response_time=(time.perf_counter() - started) * 1000.0,
        response_length=length,
        exception=exception,
        context={},
    )


class StreamError(Exception):
    """A stream (WebSocket, SSE) broke or said something the protocol does not allow."""


class LyceumUser(HttpUser):
    """Base of every journey: loopback only, JSON calls that name 429s apart, sign-in with retries."""

    abstract = True
    host = DEFAULT_HOST
    token: str | None = None

    def on_start(self) -> None:
        if not is_loopback(self.host):
            raise StopUser

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(
        self,
        method: str,
        path: str,
        name: str,
        *,
        ok: tuple[int, ...] = (200, 201),
        area: str = "api",
        **kwargs: Any,
    ) -> tuple[int, Any]:
        """One API call: (status, JSON body or None). 429 is recorded apart; other statuses outside ``ok``
        fail the request. The caller decides what a 429 means for its journey (usually: try later)."""
        headers = {**self.auth, **kwargs.pop("headers", {})} if self.token else kwargs.pop("headers", {})
        with self.client.request(method, path, name=name, headers=headers, catch_response=True, **kwargs) as response:
            if response.status_code in (429, 503):
                self.last_retry_after = retry_after(response)
            if response.status_code == 429:
                rate_limited(response, area)
                return 429, None
            if response.status_code not in ok:
                # status 0: no answer at all; the transport's error says what happened to the connection
                detail = response.text[:200] if response.status_code else repr(getattr(response, "error", None))[:200]
                response.failure(f"HTTP {response.status_code}: {detail}")
                return response.status_code, None
            response.success()
            try:
                return response.status_code, response.json()
            except ValueError:
                return response.status_code, None

    def until_ok(self, attempt: Callable[[], tuple[int, Any]], tries: int = 30) -> Any:
        """Repeat a call refused with 429, or 503 (the server shedding load), after the Retry-After it sent
        (capped at 30 s), as the web app does; stop the user on anything else, or when it never gets through."""
        for _ in range(tries):
            status, body = attempt()
            if status not in (429, 503):
                if body is None and status not in (200, 201, 204):
                    raise StopUser
                return body
            time.sleep(min(self.last_retry_after, 30.0))
        raise StopUser

    last_retry_after = 2.0

    def sign_in(self, email: str) -> str:
        def attempt() -> tuple[int, Any]:
            return self.call(
                "POST",
                "/v1/auth/login",
                "POST /v1/auth/login",
                area="login",
                json={"email": email, "password": PASSWORD, "org": ORG},
            )

        body = self.until_ok(attempt)
        return str(body["access_token"])


class _Admin:
    """The demo admin's token, one per locust process, for creating the simulated learners."""

    lock = threading.Lock()  # gevent-cooperative: locust monkey-patches threading
    token: str | None = None


def admin_token(user: LyceumUser) -> str:
    """The demo admin's access token, signed in (by ``user``) once per locust process."""
    with _Admin.lock:
        if _Admin.token is None:
            _Admin.token = user.sign_in(ADMIN_EMAIL)
        return _Admin.token


def new_learner(user: LyceumUser) -> str:
    """Create a fresh learner account (as the demo admin) and sign ``user`` in as it; returns the address."""
    email = f"load-{RUN_ID}-{os.getpid()}-{next(_serial)}@{ORG}.test"
    admin = {"Authorization": f"Bearer {admin_token(user)}"}

    def create() -> tuple[int, Any]:
        return user.call(
            "POST",
            "/v1/users",
            "POST /v1/users (admin creates a learner)",
            ok=(200, 201, 409),
            headers={**admin, "Idempotency-Key": email},
            json={"email": email, "name": "Load Learner", "roles": ["learner"], "password": PASSWORD},
        )

    saved, user.token = user.token, None  # the admin's header, not the user's
    try:
        user.until_ok(create)
    finally:
        user.token = saved
    user.token = user.sign_in(email)
    return email


def find_course(user: LyceumUser, slug: str = COURSE_SLUG) -> dict[str, Any]:
    body = user.until_ok(lambda: user.call("GET", "/v1/courses?limit=100", "GET /v1/courses"))
    for course in body.get("items", []):
        if course.get("slug") == slug:
            return dict(course)
    raise StopUser


def open_course(user: LyceumUser, slug: str = COURSE_SLUG) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Enroll in the course and fetch its outline: (course, items in order)."""
    course = find_course(user, slug)
    cid = course["id"]
    user.until_ok(lambda: user.call("POST", f"/v1/courses/{cid}/enrollments", "POST /v1/courses/{id}/enrollments"))
    detail = user.until_ok(lambda: user.call("GET", f"/v1/courses/{cid}", "GET /v1/courses/{id}"))
    items = [item for module in detail.get("modules", []) for item in module.get("items", [])]
    return course, items


def open_lesson(user: LyceumUser, course_id: str, item_id: str) -> None:
    path = f"/v1/courses/{course_id}/items/{item_id}"
    user.until_ok(lambda: user.call("GET", path, "GET /v1/courses/{id}/items/{item_id}"))


# Stop on a condition rather than a clock (the smoke test, CI): with LYCEUM_LOAD_UNTIL="<name>;<name>…"
# the run quits once every named request has at least one success and LYCEUM_LOAD_MIN_SECONDS have
# passed; `-t` still bounds a run that never gets there.
UNTIL = [name.strip() for name in os.environ.get("LYCEUM_LOAD_UNTIL", "").split(";") if name.strip()]
MIN_SECONDS = float(os.environ.get("LYCEUM_LOAD_MIN_SECONDS", "20"))


def _covered(environment: Environment) -> bool:
    succeeded = {
        name for (name, _method), entry in environment.stats.entries.items() if entry.num_requests > entry.num_failures
    }
    return all(name in succeeded for name in UNTIL)


def _stop_when_covered(environment: Environment, **_: Any) -> None:
    if not UNTIL or environment.runner is None:
        return
    import gevent  # locust's own dependency; imported here so the module reads without it

    def watch() -> None:
        started = time.monotonic()
        while not (time.monotonic() - started >= MIN_SECONDS and _covered(environment)):
            gevent.sleep(1.0)
        # Locust's --csv files are rewritten once a second and not at exit: a journey that succeeded just
        # before the quit was in the printed summary but missing from run_stats.csv (a smoke-test failure
        # under load). Two intervals let the writer, whose timer expires first, write it before the quit.
        gevent.sleep(2 * locust_stats.CSV_STATS_INTERVAL_SEC)
        print("loadtests: every journey in LYCEUM_LOAD_UNTIL succeeded; stopping")
        if environment.runner is not None:
            environment.runner.quit()

    gevent.spawn(watch)


events.test_start.add_listener(_stop_when_covered)
