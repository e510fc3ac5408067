"""No 5xx from bad input, anywhere (issue 9, part 3).

First the findings one by one, with realistic requests, each showing the refusal names the field and
loses nothing; then every route of the app is walked with OPTIONS, HEAD, NUL in every query parameter
and body string, JSON nested 1,000 deep and huge strings. A new route is walked without anyone adding it
here. WebSocket frames: test_socket_limits.py; CORS: test_cors.py; the schema-driven fuzzer with the same
classes: test_fuzz.py (all three beside this file).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.exceptions import ImproperlyConfiguredException
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from app.lib.inputs import MAX_JSON_DEPTH
from app.lib.problems import exception_handlers
from tests.support.hostile import (
    HUGE_CHARS,
    assert_refused,
    deep_json,
    example,
    openapi_path,
    problems_with,
    replace_at,
    string_leaves,
    with_nul,
)
from tests.support.stack import auth_headers, login

Client = AsyncTestClient[Litestar]
# Concrete values for path parameters; ids are random (a 404 is a fine answer to hostile input).
PATH_VALUES = {
    "name": "tutor",
    "version": "walker-check",
    "path:str": "openapi.yaml",
    "file_path": "swagger-ui.css",
    "path:path": "learning",
}
SKIP_BODY_ROUTES = {("POST", "/v1/auth/logout")}  # no body, and calling it would revoke the walker's token


def fill(template: str) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match[1], match[2]
        return PATH_VALUES.get(f"{name}:{kind}") or PATH_VALUES.get(name) or str(uuid.uuid4())

    return re.sub(r"\{(\w+):(\w+)\}", value, template)


def http_routes(app: Litestar) -> Iterator[HTTPRoute]:
    yield from (route for route in app.routes if isinstance(route, HTTPRoute))


def body_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, path template) of every handler that decodes a JSON body."""
    found = []
    for route in http_routes(app):
        for method, (handler, _) in route.route_handler_map.items():
            if "data" in handler.parsed_fn_signature.parameters and (method, route.path) not in SKIP_BODY_ROUTES:
                found.append((method, route.path))
    return sorted(found)


@pytest.fixture(scope="module")
async def acme_admin(client: Client) -> dict[str, str]:
    # acme, so that whatever the walker manages to change never touches the demo org other tests use.
    return await auth_headers(client, "admin@acme.test", "acme")


@pytest.fixture(scope="module")
def openapi(app: Litestar) -> dict[str, Any]:
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    return schema


def operation(openapi: dict[str, Any], method: str, template: str) -> dict[str, Any]:
    found: dict[str, Any] = openapi["paths"].get(openapi_path(template), {}).get(method.lower(), {})
    return found


def example_body(openapi: dict[str, Any], method: str, template: str) -> Any:
    content = operation(openapi, method, template).get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema")
    return example(schema, openapi["components"]["schemas"]) if schema else {}


# --------------------------------------------------------------------------- the findings, one by one


async def test_options_on_a_guarded_route_is_204_not_500(client: Client) -> None:
    """Was: 500 "'user' is not defined in scope, install an AuthMiddleware…" on 30 operations."""
    response = await client.options("/v1/users")
    assert response.status_code == 204, response.text
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert not problems_with(response, "OPTIONS /v1/users")


async def test_litestar_server_errors_never_show_their_message() -> None:
    """Framework 5xx messages describe the server's insides; the problem document must not carry them."""

    @get("/broken")
    async def broken() -> None:
        raise ImproperlyConfiguredException("'user' is not defined in scope, install an AuthMiddleware")

    async with AsyncTestClient(app=Litestar([broken], exception_handlers=exception_handlers)) as tiny:
        response = await tiny.get("/broken")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "AuthMiddleware" not in response.text
    assert response.json()["type"].endswith("/internal")


async def test_login_with_nul_in_the_email_is_422_then_login_works(client: Client) -> None:
    body = {"email": "learner@demo.test\x00", "password": "lyceum-demo", "org": "demo"}
    assert_refused(await client.post("/v1/auth/login", json=body), 422, pointer="#/email")
    # The same sign-in without the NUL succeeds (honouring Retry-After if the limiter fails closed under load).
    assert (await login(client, "learner@demo.test", "demo"))["access_token"]


async def test_user_name_and_email_with_nul_are_422_and_create_nothing(
    client: Client, acme_admin: dict[str, str]
) -> None:
    email = f"nul-{uuid.uuid4().hex[:8]}@acme.test"
    good = {"email": email, "name": "Nora Null", "roles": ["learner"]}
    refused = await client.post("/v1/users", headers=acme_admin, json={**good, "name": "Nora\x00Null"})
    assert_refused(refused, 422, pointer="#/name")
    refused = await client.post("/v1/users", headers=acme_admin, json={**good, "email": email + "\x00"})
    assert_refused(refused, 422, pointer="#/email")
    created = await client.post("/v1/users", headers=acme_admin, json=good)  # nothing half-made stands in the way
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    patched = await client.patch(f"/v1/users/{user_id}", headers=acme_admin, json={"name": "\x00"})
    assert_refused(patched, 422, pointer="#/name")
    shown = await client.get(f"/v1/users/{user_id}", headers=acme_admin)
    assert shown.json()["name"] == "Nora Null"


async def test_tutor_message_id_and_feedback_comment_with_nul(client: Client) -> None:
    learner = await auth_headers(client, "learner@demo.test", "demo")
    course = (await client.get("/v1/courses", headers=learner)).json()["items"][0]
    session = (await client.post("/v1/tutor/sessions", headers=learner, json={"course_id": course["id"]})).json()
    messages = f"/v1/tutor/sessions/{session['id']}/messages"
    refused = await client.post(messages, headers=learner, json={"text": "What is HTTP?", "id": "m\x001"})
    assert_refused(refused, 422, pointer="#/id")
    answered = await client.post(messages, headers=learner, json={"text": "What is HTTP?", "id": "m-1"})
    assert answered.status_code == 200, answered.text
    done = next(e for e in answered.json()["events"] if e["type"] == "done")
    feedback = f"/v1/tutor/interactions/{done['interaction_id']}/feedback"
    refused = await client.post(feedback, headers=learner, json={"rating": 4, "comment": "fine\x00"})
    assert_refused(refused, 422, pointer="#/comment")
    rated = await client.post(feedback, headers=learner, json={"rating": 4, "comment": "fine"})
    assert rated.status_code == 200, rated.text
    assert rated.json()["comment"] == "fine"


async def test_submission_and_disagreement_with_nul(client: Client) -> None:
    """The body is refused while it is decoded, before the assessment or submission is looked up."""
    learner = await auth_headers(client, "learner@demo.test", "demo")
    for field in ("text", "code"):
        refused = await client.post(
            f"/v1/assessments/{uuid.uuid4()}/submissions", headers=learner, json={field: "print(1)\x00"}
        )
        assert_refused(refused, 422, pointer=f"#/{field}")
    refused = await client.post(
        f"/v1/submissions/{uuid.uuid4()}/disagree", headers=learner, json={"reason": "Question 3\x00"}
    )
    assert_refused(refused, 422, pointer="#/reason")


async def test_prompt_system_text_with_nul_is_422_and_stores_nothing(
    client: Client, acme_admin: dict[str, str]
) -> None:
    path = "/v1/admin/prompts/tutor/versions/nul-check"
    system = "You are a careful tutor for {course_title}.\x00 {safety}"
    assert_refused(
        await client.put(path, headers=acme_admin, json={"system": system, "weight": 0}), 422, pointer="#/system"
    )
    versions = (await client.get("/v1/admin/prompts/tutor", headers=acme_admin)).text
    assert "nul-check" not in versions


@pytest.mark.parametrize(("path", "parameter"), [("/v1/audit-log?action=%00", "action"), ("/v1/courses?q=%00", "q")])
async def test_nul_in_a_query_parameter_is_422_naming_it(
    client: Client, acme_admin: dict[str, str], path: str, parameter: str
) -> None:
    assert_refused(await client.get(path, headers=acme_admin), 422, parameter=parameter)


async def test_deep_json_is_400_even_before_login(client: Client) -> None:
    """Was: 500 RecursionError on every JSON route, unauthenticated login included."""
    response = await client.post("/v1/auth/login", content=deep_json(), headers={"content-type": "application/json"})
    body = assert_refused(response, 400, pointer="#")
    assert str(MAX_JSON_DEPTH) in body["detail"]
    # As deep as allowed still decodes (and then fails validation like any wrong shape).
    allowed = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    response = await client.post("/v1/auth/login", content=allowed, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


async def test_body_that_is_not_utf8_is_400(client: Client) -> None:
    body = b'{"email": "learner@demo.test\xff", "password": "x", "org": "demo"}'
    response = await client.post("/v1/auth/login", content=body, headers={"content-type": "application/json"})
    assert_refused(response, 400)


@pytest.mark.parametrize(
    "since",
    [
        "99999999999999999999",  # above 2^64 - 1: Redis refused it, which read as "unavailable" (503)
        "18446744073709551616-0",
        "1-18446744073709551616",
        "1\n",
        "\u0661\u0662",  # Arabic-Indic digits matched \d
        "abc",
    ],
)
async def test_bad_since_on_the_review_feed_is_422(client: Client, acme_admin: dict[str, str], since: str) -> None:
    response = await client.get("/v1/review/feed", headers=acme_admin, params={"since": since})
    assert_refused(response, 422, pointer="#/since")


async def test_the_largest_event_id_is_a_valid_since(client: Client, acme_admin: dict[str, str]) -> None:
    largest = "18446744073709551615-18446744073709551615"  # Redis refuses it as an exclusive start
    response = await client.get("/v1/review/feed", headers=acme_admin, params={"since": largest})
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "last_id": largest}


@pytest.mark.parametrize("path", ["/static/swagger-ui/a%00b", "/learn%00ing", "/v1/admin/prompts/a%00b"])
async def test_nul_in_the_path_is_4xx(client: Client, acme_admin: dict[str, str], path: str) -> None:
    response = await client.get(path, headers=acme_admin)
    assert 400 <= response.status_code < 500, response.text
    assert not problems_with(response, path)


# --------------------------------------------------------------------------- every route


def test_the_app_has_no_hand_written_options_handler(app: Litestar) -> None:
    """The role guards let OPTIONS through (app/lib/auth.py): only Litestar's generated `Allow` answer may run."""
    for route in http_routes(app):
        handler, _ = route.route_handler_map["OPTIONS"]
        assert handler.fn.__name__ == "options_handler", f"{route.path} has its own OPTIONS handler"


async def test_options_on_every_route(client: Client, app: Litestar) -> None:
    failures: list[str] = []
    preflight = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    for route in http_routes(app):
        path = fill(route.path)
        for headers in ({}, preflight):
            response = await client.options(path, headers=headers)
            failures += problems_with(response, f"OPTIONS {route.path}")
            if response.status_code != 204:
                failures.append(f"OPTIONS {route.path} -> {response.status_code}")
                continue
            allowed = set(response.headers["allow"].split(", "))
            expected = set(route.methods) | ({"HEAD"} if "GET" in route.methods else set())
            if allowed != expected:
                failures.append(f"OPTIONS {route.path}: Allow {sorted(allowed)}, expected {sorted(expected)}")
            if "access-control-allow-origin" in response.headers:
                failures.append(f"OPTIONS {route.path} allowed a cross-origin preflight with CORS off")
    assert not failures, "\n".join(failures)


async def test_head_on_every_route(client: Client, app: Litestar, acme_admin: dict[str, str]) -> None:
    failures: list[str] = []
    for route in http_routes(app):
        path = fill(route.path)
        for who, headers in (("anonymous", {}), ("admin", acme_admin)):
            head = await client.head(path, headers=headers)
            failures += problems_with(head, f"HEAD {route.path} as {who}")
            if head.content:
                failures.append(f"HEAD {route.path} as {who} sent a body")
            if "GET" not in route.methods:
                if head.status_code != 405:
                    failures.append(f"HEAD {route.path} (no GET) -> {head.status_code}, expected 405")
                continue
            got = await client.get(path, headers=headers)
            if head.status_code != got.status_code:
                failures.append(f"HEAD {route.path} as {who} -> {head.status_code}, GET -> {got.status_code}")
            if head.headers.get("content-type") != got.headers.get("content-type"):
                failures.append(f"HEAD {route.path} as {who}: content-type differs from GET")
    assert not failures, "\n".join(failures)


async def test_head_requests_are_measured_under_their_route(client: Client, acme_admin: dict[str, str]) -> None:
    assert (await client.head("/v1/courses", headers=acme_admin)).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert 'method="HEAD",route="/v1/courses",status="200"' in metrics


async def test_nul_in_every_query_parameter(
    client: Client, app: Litestar, openapi: dict[str, Any], acme_admin: dict[str, str]
) -> None:
    failures: list[str] = []
    checked = 0
    for route in http_routes(app):
        for method in route.methods - {"OPTIONS", "HEAD"}:
            for parameter in operation(openapi, method, route.path).get("parameters", []):
                if parameter["in"] != "query":
                    continue
                checked += 1
                name = parameter["name"]
                label = f"{method} {route.path}?{name}=%00"
                response = await client.request(method, fill(route.path), params={name: "\x00"}, headers=acme_admin)
                failures += problems_with(response, label)
                if response.status_code != 422 or {"parameter": name} not in _where(response):
                    failures.append(f"{label} -> {response.status_code}, expected 422 naming {name}")
                huge = await client.request(method, fill(route.path), params={name: "x" * 50_000}, headers=acme_admin)
                failures += problems_with(huge, f"{method} {route.path}?{name}=<50,000 characters>")
    assert checked >= 10  # the walk really found the query parameters
    assert not failures, "\n".join(failures)


def _where(response: httpx.Response) -> list[dict[str, Any]]:
    errors = response.json().get("errors", []) if response.content else []
    return [{k: v for k, v in e.items() if k in ("parameter", "pointer")} for e in errors]


async def test_nul_deep_and_huge_in_every_body(
    client: Client, app: Litestar, openapi: dict[str, Any], acme_admin: dict[str, str]
) -> None:
    failures: list[str] = []
    routes = body_routes(app)
    assert len(routes) >= 10
    json_header = {**acme_admin, "content-type": "application/json"}
    for method, template in routes:
        path = fill(template)
        deep = await client.request(method, path, content=deep_json(), headers=json_header)
        failures += problems_with(deep, f"{method} {template} <depth 1000>")
        if deep.status_code != 400:
            failures.append(f"{method} {template} <depth 1000> -> {deep.status_code}, expected 400")
        body = example_body(openapi, method, template)
        leaves = list(string_leaves(body))
        for pointer in leaves:
            label = f"{method} {template} NUL at {pointer}"
            response = await client.request(method, path, json=replace_at(body, pointer, with_nul), headers=acme_admin)
            failures += problems_with(response, label)
            if response.status_code != 422 or {"pointer": pointer} not in _where(response):
                failures.append(
                    f"{label} -> {response.status_code}, expected 422 naming {pointer}: {response.text[:200]}"
                )
            huge = replace_at(body, pointer, lambda _: "x" * HUGE_CHARS)
            response = await client.request(method, path, json=huge, headers=acme_admin)
            failures += problems_with(response, f"{method} {template} huge string at {pointer}")
        if isinstance(body, dict):
            response = await client.request(method, path, json={**body, "key\x00": 1}, headers=acme_admin)
            failures += problems_with(response, f"{method} {template} NUL in a member name")
            if response.status_code != 422:
                failures.append(f"{method} {template} NUL in a member name -> {response.status_code}")
    assert not failures, "\n".join(failures)
