"""RBAC test matrix: every route x role. Adding a route without an entry here fails the suite.

Each cell says what the role must get: ``ok`` (authorised: neither 401 nor 403), ``deny`` (403), or
``auth`` (401: authentication required). Ownership rules beyond roles are tested in test_auth.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import WebSocketRoute
from litestar.testing import AsyncTestClient

from tests.support.stack import login

Client = AsyncTestClient[Litestar]
ROLES = ("anonymous", "learner", "instructor", "admin")
PUBLIC = {"anonymous": "ok", "learner": "ok", "instructor": "ok", "admin": "ok"}
MEMBERS = {"anonymous": "auth", "learner": "ok", "instructor": "ok", "admin": "ok"}
STAFF = {"anonymous": "auth", "learner": "deny", "instructor": "ok", "admin": "ok"}
ADMINS = {"anonymous": "auth", "learner": "deny", "instructor": "deny", "admin": "ok"}
# The learner's own tutoring session: only its owner may talk in it or rate its replies.
OWNER = {"anonymous": "auth", "learner": "ok", "instructor": "deny", "admin": "deny"}
# Authenticated inside the socket protocol (close codes 4401/4403/4404): tests/integration/tutor/test_tutor_api.py.
SOCKET = {"anonymous": "socket", "learner": "socket", "instructor": "socket", "admin": "socket"}

MATRIX: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/v1/config"): PUBLIC,  # demo mode for the sign-in page; nothing secret
    ("POST", "/v1/auth/login"): PUBLIC,
    ("POST", "/v1/auth/refresh"): PUBLIC,
    ("POST", "/v1/auth/logout"): MEMBERS,
    ("GET", "/v1/me"): MEMBERS,
    ("GET", "/v1/me/mastery"): MEMBERS,  # the caller's own estimates (integration/mastery/test_mastery.py)
    ("POST", "/v1/me/password"): MEMBERS,  # needs the current password (integration/auth/test_account_security.py)
    ("GET", "/v1/users"): STAFF,
    ("POST", "/v1/users"): ADMINS,
    ("POST", "/v1/users/{user_id:uuid}/password"): ADMINS,  # members of the admin's org only
    ("GET", "/v1/users/me"): MEMBERS,
    ("GET", "/v1/users/{user_id:uuid}"): MEMBERS,  # own profile; others' for staff (test_auth.py)
    ("PATCH", "/v1/users/{user_id:uuid}"): MEMBERS,  # own profile; others' for admins (test_auth.py)
    ("GET", "/v1/courses"): MEMBERS,
    ("GET", "/v1/courses/{course_id:uuid}"): MEMBERS,
    ("GET", "/v1/courses/{course_id:uuid}/items/{item_id:uuid}"): MEMBERS,
    ("POST", "/v1/courses/{course_id:uuid}/enrollments"): MEMBERS,
    ("GET", "/v1/enrollments"): MEMBERS,
    ("GET", "/v1/courses/{course_id:uuid}/progress"): MEMBERS,
    ("POST", "/v1/courses/{course_id:uuid}/items/{item_id:uuid}/completion"): MEMBERS,
    ("PUT", "/v1/courses/{course_id:uuid}/position"): MEMBERS,  # own enrollment only (409 unless enrolled)
    ("GET", "/v1/learning"): MEMBERS,  # the caller's own courses, reviews and grades
    ("GET", "/v1/search"): MEMBERS,  # the caller's enrolled courses only (integration/search/test_search.py)
    ("GET", "/v1/me/reviews/due"): MEMBERS,  # the caller's own review cards (integration/spaced/)
    ("GET", "/v1/me/reviews/summary"): MEMBERS,
    ("POST", "/v1/me/reviews/{card_id:uuid}/answers"): MEMBERS,  # own cards only (404 otherwise)
    ("GET", "/v1/courses/{course_id:uuid}/next"): MEMBERS,  # own enrolments only (integration/recommendations)
    ("GET", "/v1/items/{item_id:uuid}/related"): MEMBERS,  # own enrolled courses only (integration/recommendations)
    ("GET", "/v1/audit-log"): ADMINS,
    ("POST", "/v1/tutor/sessions"): MEMBERS,
    ("GET", "/v1/tutor/sessions/{session_id:uuid}"): MEMBERS,  # own transcript; any for staff
    ("POST", "/v1/tutor/sessions/{session_id:uuid}/messages"): OWNER,
    ("POST", "/v1/tutor/interactions/{interaction_id:uuid}/feedback"): OWNER,
    ("WS", "/v1/tutor/sessions/{session_id:uuid}/ws"): SOCKET,
    ("WS", "/v1/review/feed"): SOCKET,  # instructors and admins; close codes in tests/review_feed
    ("GET", "/v1/review/feed"): STAFF,
    ("GET", "/v1/admin/budgets"): ADMINS,
    ("PUT", "/v1/admin/budgets"): ADMINS,
    ("GET", "/v1/admin/budgets/spend"): ADMINS,  # month-end projection (integration/alerts/test_alerts.py)
    ("GET", "/v1/admin/alerts/rules"): ADMINS,
    ("POST", "/v1/admin/alerts/rules"): ADMINS,
    ("PATCH", "/v1/admin/alerts/rules/{rule_id:uuid}"): ADMINS,
    ("DELETE", "/v1/admin/alerts/rules/{rule_id:uuid}"): ADMINS,
    ("GET", "/v1/alerts"): STAFF,  # the org's alerts: instructors see them on the feed too
    ("POST", "/v1/alerts/{alert_id:uuid}/acknowledge"): STAFF,
    ("GET", "/v1/admin/prompts/{name:str}"): ADMINS,
    ("PUT", "/v1/admin/prompts/{name:str}/versions/{version:str}"): ADMINS,
    ("GET", "/v1/admin/prompts/{name:str}/compare"): ADMINS,
    # Experiments (issue 17): org admins only (integration/experiments/; 404 here: unknown ids, or 400: no body).
    ("GET", "/v1/admin/experiments"): ADMINS,
    ("POST", "/v1/admin/experiments"): ADMINS,
    ("GET", "/v1/admin/experiments/{experiment_id:uuid}"): ADMINS,
    ("PATCH", "/v1/admin/experiments/{experiment_id:uuid}"): ADMINS,
    ("POST", "/v1/admin/experiments/{experiment_id:uuid}/start"): ADMINS,
    ("POST", "/v1/admin/experiments/{experiment_id:uuid}/stop"): ADMINS,
    ("GET", "/v1/admin/experiments/{experiment_id:uuid}/results"): ADMINS,
    ("GET", "/v1/assessments/{assessment_id:uuid}"): MEMBERS,
    ("POST", "/v1/assessments/{assessment_id:uuid}/submissions"): MEMBERS,  # 409 unless enrolled
    ("GET", "/v1/assessments/{assessment_id:uuid}/submissions"): MEMBERS,
    ("POST", "/v1/assessments/{assessment_id:uuid}/test-runs"): MEMBERS,  # visible tests only; 409 unless enrolled
    ("GET", "/v1/items/{item_id:uuid}/assessment"): MEMBERS,
    ("GET", "/v1/submissions/{submission_id:uuid}"): MEMBERS,  # own; any in the org for staff
    ("POST", "/v1/submissions/{submission_id:uuid}/disagree"): MEMBERS,  # own only (404 otherwise)
    ("GET", "/v1/submissions/{submission_id:uuid}/events"): MEMBERS,  # own; any in the org for staff
    ("GET", "/v1/admin/dead-letters"): ADMINS,
    ("GET", "/v1/review/queue"): STAFF,
    ("GET", "/v1/review/items/{item_id:uuid}"): STAFF,
    ("GET", "/v1/review/submissions/{submission_id:uuid}"): STAFF,
    ("POST", "/v1/review/items/{item_id:uuid}/claim"): STAFF,
    ("POST", "/v1/review/items/{item_id:uuid}/decision"): STAFF,
    ("GET", "/v1/review/metrics"): STAFF,
    ("GET", "/v1/review/corrections.jsonl"): STAFF,
    ("GET", "/v1/me/credentials"): MEMBERS,  # the caller's own (integration/credentials/test_issuance.py)
    ("PATCH", "/v1/me/credentials/{credential_id:uuid}"): MEMBERS,  # own only (404 otherwise)
    ("GET", "/v1/me/credential-subject"): MEMBERS,
    ("PUT", "/v1/me/credential-subject"): MEMBERS,
    ("GET", "/v1/credentials/{credential_id:str}"): PUBLIC,  # a credential's share page: public by design
    ("GET", "/v1/credentials/{credential_id:str}/badge.svg"): PUBLIC,
    # Credentials (issue 13): what outside verifiers resolve is public (integration/credentials/).
    ("GET", "/orgs/{slug:str}/did.json"): PUBLIC,
    ("GET", "/orgs/{slug:str}/jwks.json"): PUBLIC,
    ("GET", "/orgs/{slug:str}/credentials/status/{list_id:str}"): PUBLIC,  # 404 for an unknown list
    ("POST", "/v1/credentials/verify"): PUBLIC,  # rate limited per client address
    ("GET", "/lti/login"): PUBLIC,  # LTI OIDC login initiation: the LMS sends the browser here (400 page here)
    ("POST", "/lti/login"): PUBLIC,
    ("POST", "/lti/launch"): PUBLIC,  # the LMS posts the id_token here (415 page here: not a form)
    ("POST", "/v1/lti/session"): PUBLIC,  # the one-time launch code is the credential (400 here: no code)
    # Deep Linking picker (issue 14): staff; the launching instructor only (404 here: no such request).
    ("GET", "/v1/lti/deep-linking/{dl_id:str}"): STAFF,
    ("POST", "/v1/lti/deep-linking/{dl_id:str}/response"): STAFF,
    ("GET", "/v1/admin/issuer"): ADMINS,
    ("PUT", "/v1/admin/issuer"): ADMINS,  # 400 here (no name): nothing changes
    ("POST", "/v1/admin/issuer/keys/rotate"): ADMINS,
    ("GET", "/v1/admin/credentials"): STAFF,
    ("POST", "/v1/admin/credentials/{credential_id:uuid}/revoke"): STAFF,  # 404 here: unknown id
    # LTI services (issue 14): linked LMS contexts and their roster sync (integration/lti/test_roster_sync.py).
    ("GET", "/v1/lti/contexts"): STAFF,
    ("POST", "/v1/lti/contexts/{context_id:uuid}/roster-sync"): STAFF,  # 404 here: unknown id
    # LTI administration (issue 14): registrations and invitations are the org admin's; the tool's keys and the
    # dynamic registration page are public (/lti/register refuses without an invitation: 400 page here).
    ("GET", "/v1/admin/lti/platforms"): ADMINS,
    ("POST", "/v1/admin/lti/platforms"): ADMINS,  # 400 here (no body)
    ("GET", "/v1/admin/lti/platforms/{platform_id:uuid}"): ADMINS,  # 404 here: unknown id
    ("PATCH", "/v1/admin/lti/platforms/{platform_id:uuid}"): ADMINS,
    ("DELETE", "/v1/admin/lti/platforms/{platform_id:uuid}"): ADMINS,
    ("POST", "/v1/admin/lti/registrations"): ADMINS,
    ("GET", "/v1/admin/lti/tool"): ADMINS,
    # SAML single sign-on (issue 16; integration/sso/test_saml_*.py): the SP's endpoints are public (the browser
    # arrives with no session; login 404 page here when no connection, ACS 415 page: not a form; the ACS's code is
    # exchanged at the shared POST /v1/sso/session); the connection is the org admin's.
    ("GET", "/v1/auth/sso/{org:str}/saml/login"): PUBLIC,
    ("POST", "/v1/auth/sso/{org:str}/saml/acs"): PUBLIC,
    ("GET", "/v1/auth/sso/{org:str}/saml/metadata"): PUBLIC,
    ("GET", "/v1/admin/sso/saml"): ADMINS,
    ("PUT", "/v1/admin/sso/saml"): ADMINS,  # 400 here (no body)
    ("DELETE", "/v1/admin/sso/saml"): ADMINS,  # 404 here unless configured
    ("GET", "/lti/jwks.json"): PUBLIC,
    ("GET", "/lti/register"): PUBLIC,
    ("POST", "/lti/register"): PUBLIC,
    # Single sign-on (issue 16): the sign-in page's providers, the OIDC login and callback (a browser with no
    # session; 404/400 pages here) and the one-time code exchange are public; configuration is the admin's
    # (tests/integration/sso/).
    ("GET", "/v1/auth/sso/{org:str}"): PUBLIC,
    ("GET", "/v1/auth/sso/{org:str}/login"): PUBLIC,
    ("GET", "/v1/auth/sso/{org:str}/callback"): PUBLIC,
    ("POST", "/v1/sso/session"): PUBLIC,  # the one-time code is the credential (400 here: no code)
    ("GET", "/v1/admin/sso/oidc"): ADMINS,
    ("PUT", "/v1/admin/sso/oidc"): ADMINS,  # 400 here (no body)
    ("DELETE", "/v1/admin/sso/oidc"): ADMINS,
    ("GET", "/v1/admin/sso/settings"): ADMINS,
    ("PUT", "/v1/admin/sso/settings"): ADMINS,  # 400 here (no body)
    # Webhooks (issue 16): org admins only (integration/webhooks/test_admin_api.py; 404 here: unknown ids).
    ("GET", "/v1/admin/webhooks"): ADMINS,
    ("POST", "/v1/admin/webhooks"): ADMINS,  # 400 here (no body)
    ("GET", "/v1/admin/webhooks/{endpoint_id:uuid}"): ADMINS,
    ("PATCH", "/v1/admin/webhooks/{endpoint_id:uuid}"): ADMINS,
    ("DELETE", "/v1/admin/webhooks/{endpoint_id:uuid}"): ADMINS,
    ("POST", "/v1/admin/webhooks/{endpoint_id:uuid}/rotate-secret"): ADMINS,
    ("GET", "/v1/admin/webhooks/{endpoint_id:uuid}/deliveries"): ADMINS,
    ("POST", "/v1/admin/webhooks/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/replay"): ADMINS,
    # Org admin (issue 17; integration/orgadmin/): people and invitations and course visibility are the admins',
    # learners' progress is staff's; 404 here (unknown ids) or 400 (no body).
    ("PUT", "/v1/users/{user_id:uuid}/roles"): ADMINS,  # the org always keeps one active admin
    ("GET", "/v1/admin/invitations"): ADMINS,
    ("POST", "/v1/admin/invitations"): ADMINS,
    ("POST", "/v1/admin/invitations/{invitation_id:uuid}/revoke"): ADMINS,
    ("POST", "/v1/admin/invitations/{invitation_id:uuid}/resend"): ADMINS,
    ("GET", "/v1/admin/courses"): ADMINS,
    ("PUT", "/v1/admin/courses/{course_id:uuid}/visibility"): ADMINS,
    ("GET", "/v1/admin/courses/{course_id:uuid}/enrollments"): ADMINS,
    ("GET", "/v1/admin/courses/{course_id:uuid}/progress"): STAFF,
    ("GET", "/v1/admin/courses/{course_id:uuid}/at-risk"): STAFF,
    ("GET", "/v1/admin/courses/{course_id:uuid}/at-risk.csv"): STAFF,
    # The public invitation page: the one-time token in the body is the credential (rate limited like sign-in).
    ("POST", "/v1/invitations/preview"): PUBLIC,
    ("POST", "/v1/invitations/accept"): PUBLIC,
    # Course authoring (issue 17): instructors and admins of the org (integration/authoring/; 404 or 415 here).
    ("GET", "/v1/authoring/courses"): STAFF,
    ("POST", "/v1/authoring/courses"): STAFF,  # 415 here (no YAML body)
    ("POST", "/v1/authoring/validate"): STAFF,
    ("GET", "/v1/authoring/schema"): STAFF,  # the editor's completion (authoring/test_authoring_schema.py)
    ("GET", "/v1/authoring/courses/{draft_id:uuid}"): STAFF,
    ("PUT", "/v1/authoring/courses/{draft_id:uuid}"): STAFF,
    ("GET", "/v1/authoring/courses/{draft_id:uuid}/preview"): STAFF,
    ("POST", "/v1/authoring/courses/{draft_id:uuid}/preview/tutor"): STAFF,  # 404 here (no such draft)
    ("GET", "/v1/authoring/courses/{draft_id:uuid}/diff"): STAFF,
    ("POST", "/v1/authoring/courses/{draft_id:uuid}/publish"): STAFF,
    ("POST", "/v1/authoring/courses/{draft_id:uuid}/migrate"): STAFF,
    # AI observability (issue 17): org admins only (integration/insights/test_api.py).
    ("GET", "/v1/admin/ai/usage"): STAFF,
    ("GET", "/v1/admin/ai/guardrails"): STAFF,
    ("GET", "/v1/admin/ai/providers"): STAFF,
    ("GET", "/v1/admin/ai/grading"): STAFF,
    ("GET", "/v1/admin/ai/ratings"): STAFF,
    # Personal-data export (issue 18 item 5; integration/dataexport/): own data, an admin's of one member, and
    # the download, whose signed link is the credential (404 here: not a token of ours).
    ("GET", "/v1/me/export"): MEMBERS,
    ("POST", "/v1/me/export"): MEMBERS,
    ("GET", "/v1/admin/users/{user_id:uuid}/export"): ADMINS,  # members of the admin's org only (404 otherwise)
    ("POST", "/v1/admin/users/{user_id:uuid}/export"): ADMINS,
    ("GET", "/v1/exports/{token:str}"): PUBLIC,
    # Data rights (issue 18 item 5): integration/dataprivacy/. Nobody is erased here (a wrong password, oneself).
    ("GET", "/v1/admin/retention"): ADMINS,
    ("PUT", "/v1/admin/retention"): ADMINS,
    ("POST", "/v1/admin/users/{user_id:uuid}/erasure"): ADMINS,  # 409 here: the caller themselves
    ("POST", "/v1/me/erasure"): MEMBERS,  # 422 here: the current password is wrong
    ("GET", "/schema"): PUBLIC,
    ("GET", "/schema/openapi.json"): PUBLIC,
    ("GET", "/static/swagger-ui/{file_path:path}"): PUBLIC,
    ("GET", "/schema/swagger"): PUBLIC,
    ("GET", "/schema/oauth2-redirect.html"): PUBLIC,
    ("GET", "/schema/{path:str}"): PUBLIC,
    ("GET", "/"): PUBLIC,  # the web app (static files), when built
    ("GET", "/{path:path}"): PUBLIC,  # the web app's client-side routes and assets, when built
}
EMAILS = {"learner": "learner@demo.test", "instructor": "instructor@demo.test", "admin": "admin@demo.test"}


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    routes = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            routes.add(("WS", route.path))
        for method in getattr(route, "methods", ()):
            if method not in ("OPTIONS", "HEAD"):
                routes.add((method, route.path))
    return routes


def test_every_route_has_a_matrix_entry(app: Litestar) -> None:
    missing = app_routes(app) - set(MATRIX)
    assert not missing, f"add these routes to MATRIX in {__file__}: {sorted(missing)}"


@pytest.fixture(scope="module")
async def context(client: Client) -> dict[str, Any]:
    admin = await login(client, EMAILS["admin"], "demo")
    headers = {"Authorization": f"Bearer {admin['access_token']}"}
    course = (await client.get("/v1/courses", headers=headers)).json()["items"][0]
    detail = (await client.get(f"/v1/courses/{course['id']}", headers=headers)).json()
    learner = await login(client, EMAILS["learner"], "demo")
    as_learner = {"Authorization": f"Bearer {learner['access_token']}"}
    tutor = (await client.post("/v1/tutor/sessions", headers=as_learner, json={"course_id": course["id"]})).json()
    answer = await client.post(
        f"/v1/tutor/sessions/{tutor['id']}/messages",
        headers=as_learner,
        json={"text": "How should I start this course?"},
    )
    done = next(e for e in answer.json()["events"] if e["type"] == "done")
    return {
        "course_id": course["id"],
        "item_id": detail["modules"][0]["items"][0]["id"],
        "session_id": tutor["id"],
        "interaction_id": done["interaction_id"],
    }


# One sign-in per role for the whole matrix (a password check per route and role was most of this module's
# time): (headers, own user id). A route that ends the session (logout) drops its role's entry, and a 401
# on a cached session is retried once with a fresh sign-in, so no route's answer depends on the order.
_SESSIONS: dict[str, tuple[dict[str, str], str]] = {}


async def _session(client: Client, role: str, *, fresh: bool = False) -> tuple[dict[str, str], str]:
    if fresh or role not in _SESSIONS:
        tokens = await login(client, EMAILS[role], "demo")
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        _SESSIONS[role] = (headers, (await client.get("/v1/me", headers=headers)).json()["user_id"])
    return _SESSIONS[role]


async def _call(client: Client, app: Litestar, method: str, template: str, role: str, context: dict[str, Any]) -> int:
    status = await _call_once(client, method, template, role, context)
    if status == 401 and role != "anonymous":
        await _session(client, role, fresh=True)
        status = await _call_once(client, method, template, role, context)
    if template == "/v1/auth/logout":
        _SESSIONS.pop(role, None)
    return status


async def _call_once(client: Client, method: str, template: str, role: str, context: dict[str, Any]) -> int:
    headers: dict[str, str] = {}
    me_id = str(uuid.uuid4())
    if role != "anonymous":
        session_headers, me_id = await _session(client, role)
        headers = dict(session_headers)
    path = (
        template.replace("{user_id:uuid}", me_id)
        .replace("{course_id:uuid}", context["course_id"])
        .replace("{item_id:uuid}", context["item_id"])
        .replace("{path:str}", "openapi.yaml")
        .replace("{file_path:path}", "swagger-ui.css")
        .replace("{path:path}", "learning")
        .replace("{assessment_id:uuid}", str(uuid.uuid4()))
        .replace("{submission_id:uuid}", str(uuid.uuid4()))
        .replace("{card_id:uuid}", str(uuid.uuid4()))
        .replace("{credential_id:uuid}", str(uuid.uuid4()))
        .replace("{credential_id:str}", str(uuid.uuid4()))
        .replace("{context_id:uuid}", str(uuid.uuid4()))
        .replace("{session_id:uuid}", context["session_id"])
        .replace("{interaction_id:uuid}", context["interaction_id"])
        .replace("{name:str}", "tutor")
        .replace("{version:str}", "rbac-check")
        .replace("{slug:str}", "demo")
        .replace("{list_id:str}", str(uuid.uuid4()))
        .replace("{credential_id:uuid}", str(uuid.uuid4()))
        .replace("{platform_id:uuid}", str(uuid.uuid4()))
        .replace("{org:str}", "demo")
        .replace("{endpoint_id:uuid}", str(uuid.uuid4()))
        .replace("{delivery_id:uuid}", str(uuid.uuid4()))
        .replace("{rule_id:uuid}", str(uuid.uuid4()))
        .replace("{alert_id:uuid}", str(uuid.uuid4()))
        .replace("{invitation_id:uuid}", str(uuid.uuid4()))
        .replace("{draft_id:uuid}", str(uuid.uuid4()))
        .replace("{experiment_id:uuid}", str(uuid.uuid4()))
        .replace("{token:str}", "not-a-token")
    )
    body: Any = None
    if (method, template) == ("POST", "/v1/auth/login"):
        body = {"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"}
    elif (method, template) == ("POST", "/v1/auth/refresh"):
        body = {"refresh_token": (await login(client, "learner@demo.test", "demo"))["refresh_token"]}
    elif (method, template) == ("POST", "/v1/users"):
        body = {"email": f"new-{uuid.uuid4().hex[:8]}@demo.test", "name": "New Person", "roles": ["learner"]}
    elif template == "/v1/me/password":
        body = {"current_password": "not-the-password", "new_password": "a-new-password-123"}  # 422, no change
    elif template == "/v1/users/{user_id:uuid}/password":
        body = {"new_password": "short"}  # 422 once past the guard: nobody's password changes here
    elif method == "PATCH":
        body = {"name": f"{role.title()} Person"}
    elif template == "/v1/tutor/sessions":
        body = {"course_id": context["course_id"]}
    elif template.endswith("/messages"):
        body = {"text": "What does this lesson cover?"}
    elif template.endswith("/preview/tutor"):
        body = {"item_id": str(uuid.uuid4()), "text": "What does this lesson cover?"}
    elif template.endswith("/answers"):
        body = {"question_ref": "http-fundamentals-quiz#0", "choice": 0}
    elif template.endswith("/feedback"):
        body = {"rating": 4}
    elif template in ("/v1/admin/budgets", "/v1/admin/issuer") and method == "PUT":
        body = {}
    elif template == "/v1/me/erasure":
        body = {"confirm": "DELETE", "current_password": "not-the-password"}
    elif template.endswith("/erasure"):
        body = {"confirm": "DELETE"}
    elif template == "/v1/admin/retention":
        body = {"transcript_retention_days": None}
    elif template.endswith("/revoke"):
        body = {"reason": "rbac check"}
    elif template == "/v1/credentials/verify":
        body = {"jwt": "not-a-jwt"}
    elif template.endswith("/versions/{version:str}"):
        body = {"system": "You are a careful tutor for {course_title}. {safety}", "weight": 0}
    response = await client.request(method, path, headers=headers, json=body)
    return response.status_code


@pytest.mark.parametrize(("method", "template"), sorted(MATRIX))
async def test_route_by_role(
    client: Client, app: Litestar, context: dict[str, Any], method: str, template: str
) -> None:
    if (method, template) not in app_routes(app):
        pytest.skip("route not mounted in this build (e.g. no frontend/dist)")
    if method == "WS":
        pytest.skip("socket authorisation is tested through its close codes in integration/tutor/test_tutor_api.py")
    for role in ROLES:
        expected = MATRIX[(method, template)][role]
        status = await _call(client, app, method, template, role, context)
        if expected == "ok":
            assert status not in (401, 403), f"{role} {method} {template} -> {status}"
        elif expected == "deny":
            assert status == 403, f"{role} {method} {template} -> {status}"
        else:
            assert status == 401, f"{role} {method} {template} -> {status}"
