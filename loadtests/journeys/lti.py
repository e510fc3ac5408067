"""Learners arriving from an LMS: LTI 1.3 launches (docs/lti.md), the browser's round trip with the journey
playing the LMS (``fake_lms.py``).

Each ``LtiLauncher`` is one LMS user (its own ``sub``), so its first launch provisions a new Lyceum learner
just in time, under load; later launches are that learner opening the link again. One launch:

1. **login initiation**: ``GET <login_url>`` with ``iss``, ``login_hint``, ``target_link_uri``,
   ``lti_message_hint``, ``client_id``, ``lti_deployment_id``, as the LMS sends the browser; the tool answers
   302 to the platform's authorization endpoint with ``state`` and ``nonce``;
2. the platform's authorization step, here in the journey: it checks the redirect's OIDC parameters and signs
   an ``LtiResourceLinkRequest`` id_token (RS256, the fake LMS's key) carrying the nonce;
3. **launch**: ``POST <launch_url>`` with ``id_token`` and ``state``: the tool fetches the fake LMS's JWKS
   (loopback, cached), validates, provisions, and answers the hand-off page to ``/lti/app?code=…``;
4. the web app's code exchange (``POST /v1/lti/session``) and the learner's course page with the new token.

Recorded (request type ``LTI``): ``LTI login initiation``, ``LTI launch`` and ``LTI session``; the course
page under its route. A refusal page, a redirect elsewhere or a session of the wrong role is a failure with
the tool's reason. The fake LMS is registered in the demo org once per locust process through the admin API
(``/v1/admin/lti/platforms``), found again by its issuer and client_id by every other process and rerun.

The server under test needs ``LYCEUM_LTI_ALLOW_PRIVATE=true``: the key set URL is loopback ``http://``.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_lms import DEFAULT_PORT, AuthRequestError, FakeLms, default_key_path, load_key, serve_jwks
from locust import between, task
from locust.clients import ResponseContextManager
from locust.exception import StopUser

from journeys.common import COURSE_SLUG, RUN_ID, LyceumUser, admin_token, rate_limited, retry_after

LMS_PORT = int(os.environ.get("LYCEUM_LOAD_LMS_PORT") or DEFAULT_PORT)
LTI = "LTI"  # the request type of the launch's steps
PLATFORMS = "/v1/admin/lti/platforms"
_serial = itertools.count(1)


@dataclass(frozen=True)
class Setup:
    """What every launcher of a locust process shares: the LMS and the tool's endpoints."""

    lms: FakeLms
    login_path: str
    launch_path: str
    target_link_uri: str  # the tool's launch URL, as the LMS stores it
    course_id: str | None  # the course every launch links to (``LYCEUM_LOAD_COURSE``), if it exists


class _Process:
    lock = threading.Lock()  # gevent-cooperative: locust monkey-patches threading
    setup: Setup | None = None
    server: Any = None  # the JWKS server, when this process serves it
    given_up = False  # the setup failed once: later launchers stop at once instead of failing again each


def _served_kid(url: str) -> set[str]:
    """The key ids the JWKS at ``url`` publishes (the port was taken: is it our fake LMS?)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a loopback http URL we built
            return {str(key.get("kid")) for key in json.load(response).get("keys", [])}
    except (OSError, ValueError):
        return set()


def _setup(user: LyceumUser) -> Setup:
    with _Process.lock:
        if _Process.given_up:
            raise StopUser
        if _Process.setup is None:
            try:
                _Process.setup = _prepare(user)
            except StopUser:
                _Process.given_up = True
                raise
        return _Process.setup


def _prepare(user: LyceumUser) -> Setup:
    lms = FakeLms(load_key(default_key_path()), f"http://127.0.0.1:{LMS_PORT}")
    _Process.server = serve_jwks(lms, LMS_PORT)
    if _Process.server is None and lms.kid not in _served_kid(lms.key_set_url):
        print(f"loadtests: port {LMS_PORT} is taken by something other than the fake LMS with key {lms.kid}")
        raise StopUser
    admin = {"Authorization": f"Bearer {admin_token(user)}"}
    tool = user.until_ok(lambda: user.call("GET", "/v1/admin/lti/tool", "GET /v1/admin/lti/tool", headers=admin))
    _register(user, lms, admin)
    courses = user.until_ok(lambda: user.call("GET", "/v1/courses?limit=100", "GET /v1/courses", headers=admin))
    course_id = next((str(c["id"]) for c in courses.get("items", []) if c.get("slug") == COURSE_SLUG), None)
    return Setup(
        lms=lms,
        login_path=urlsplit(tool["login_url"]).path,
        launch_path=urlsplit(tool["launch_url"]).path,
        target_link_uri=str(tool["launch_url"]),
        course_id=course_id,
    )


def _find_registration(user: LyceumUser, lms: FakeLms, admin: dict[str, str]) -> dict[str, Any] | None:
    path: str | None = f"{PLATFORMS}?limit=100"
    while path:
        page = user.until_ok(_caller(user, "GET", path, f"GET {PLATFORMS}", admin))
        for platform in page.get("items", []):
            if platform.get("issuer") == lms.issuer and platform.get("client_id") == lms.client_id:
                return dict(platform)
        path = page.get("next")
    return None


def _caller(
    user: LyceumUser, method: str, path: str, name: str, headers: dict[str, str], body: Any = None
) -> Callable[[], tuple[int, Any]]:
    """One admin call as a retryable attempt for ``until_ok`` (bound now, not in a loop's closure)."""
    extra = {} if body is None else {"json": body}
    return lambda: user.call(method, path, name, headers=headers, **extra)


def _register(user: LyceumUser, lms: FakeLms, admin: dict[str, str]) -> None:
    """Idempotent: reuse the registration with this issuer and client_id (updated when an earlier run served
    its key set elsewhere), or create it; a 409 is another process that created it first."""
    wanted = lms.registration()
    for _ in range(3):
        found = _find_registration(user, lms, admin)
        if found is not None:
            stale = {name: value for name, value in wanted.items() if found.get(name) != value}
            if stale:
                path = f"{PLATFORMS}/{found['id']}"
                user.until_ok(_caller(user, "PATCH", path, f"PATCH {PLATFORMS}/{{id}}", admin, stale))
            return
        status, _ = user.call("POST", PLATFORMS, f"POST {PLATFORMS}", ok=(201, 409), headers=admin, json=wanted)
        if status == 201:
            return
        if status != 409:  # recorded as a failure with the server's reason; one line says what to do
            print(
                f"loadtests: the server refused to register the fake LMS (HTTP {status}); its key set URL is "
                "loopback http: start Lyceum with LYCEUM_LTI_ALLOW_PRIVATE=true, or leave LtiLauncher out "
                "(LYCEUM_LOAD_USERS)"
            )
            raise StopUser
    raise StopUser


def _as_lti(response: ResponseContextManager, name: str) -> None:
    """Record this response under ``LTI`` / ``name`` instead of its method and URL."""
    meta = response.request_meta
    if isinstance(meta, dict):
        meta["request_type"], meta["name"] = LTI, name


def _page_data(page: str) -> dict[str, Any]:
    """The JSON the tool's LTI pages carry for their script (``<script … id="lti-data">``), or {}."""
    start = page.find('id="lti-data">')
    end = page.find("</script>", start)
    if start < 0 or end < 0:
        return {}
    try:
        data = json.loads(html.unescape(page[start + len('id="lti-data">') : end]))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def launch_code(page: str) -> str | None:
    """The one-time code of the launch's hand-off page (``next`` = ``/lti/app?code=…``), None otherwise."""
    data = _page_data(page)
    next_url = urlsplit(str(data.get("next", "")))
    if data.get("page") != "lti-launch" or next_url.path != "/lti/app":
        return None
    codes = parse_qs(next_url.query).get("code", [])
    return codes[0] if codes else None


class LtiLauncher(LyceumUser):
    weight = 1
    wait_time = between(2, 6)

    def on_start(self) -> None:
        super().on_start()
        self.setup = _setup(self)
        self.sub = f"load-{RUN_ID}-{os.getpid()}-{next(_serial)}"

    @task
    def launch(self) -> None:
        setup = self.setup
        auth = self._login(setup)
        if auth is None:
            return
        code = self._launch(setup, auth)
        if code is None:
            return
        self._open(setup, code)

    def _login(self, setup: Setup) -> dict[str, str] | None:
        """Login initiation; the platform's reading of the redirect (None when refused or rate limited)."""
        params = setup.lms.login_params(login_hint=self.sub, target_link_uri=setup.target_link_uri)
        with self.client.get(setup.login_path, params=params, allow_redirects=False, catch_response=True) as response:
            _as_lti(response, "LTI login initiation")
            if response.status_code == 429:
                rate_limited(response, "lti")
                self.last_retry_after = retry_after(response)
                return None
            if response.status_code != 302:
                response.failure(f"HTTP {response.status_code}: {_refusal(response.text)}")
                return None
            try:
                auth = setup.lms.auth_request(response.headers.get("Location", ""), login_hint=self.sub)
            except AuthRequestError as exc:
                response.failure(str(exc))
                return None
            response.success()
            return auth

    def _launch(self, setup: Setup, auth: dict[str, str]) -> str | None:
        """The launch POST with the signed id_token; the hand-off page's one-time code (None on failure)."""
        id_token = setup.lms.id_token(
            sub=self.sub, nonce=auth["nonce"], target_link_uri=setup.target_link_uri, course_id=setup.course_id
        )
        with self.client.post(
            setup.launch_path,
            data={"id_token": id_token, "state": auth["state"]},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _as_lti(response, "LTI launch")
            if response.status_code == 429:
                rate_limited(response, "lti")
                return None
            code = launch_code(response.text) if response.status_code == 200 else None
            if code is None:
                response.failure(f"HTTP {response.status_code}: {_refusal(response.text)}")
                return None
            response.success()
            return code

    def _open(self, setup: Setup, code: str) -> None:
        """What the web app at /lti/app does with the code: a session, then the learner's course page."""
        with self.client.post("/v1/lti/session", json={"code": code}, catch_response=True) as response:
            _as_lti(response, "LTI session")
            if response.status_code == 429:
                rate_limited(response, "api")
                return
            body = _json(response) if response.status_code == 200 else {}
            role = body.get("user", {}).get("role")
            target = body.get("target", {})
            if role != "learner" or not body.get("access_token"):
                response.failure(f"HTTP {response.status_code}: session role {role!r}, {response.text[:200]}")
                return
            if setup.course_id is not None and target.get("course_id") != setup.course_id:
                response.failure(f"launch target {target!r}, expected the course {setup.course_id}")
                return
            response.success()
        if setup.course_id is not None:
            learner = {"Authorization": f"Bearer {body['access_token']}"}
            path = f"/v1/courses/{setup.course_id}"
            self.call("GET", path, "GET /v1/courses/{id}", ok=(200,), headers=learner)


def _json(response: ResponseContextManager) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal(page: str) -> str:
    """The tool's reason on an LTI error page (its stable code), else the start of the body."""
    data = _page_data(page)
    return f"refused: {data['code']}" if data.get("page") == "lti-error" and "code" in data else page[:200]
