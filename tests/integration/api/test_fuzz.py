"""Schemathesis fuzzes every operation of /schema/openapi.json against a real server: no 5xx, ever.

Two runs: schemathesis' own valid and invalid inputs, then its valid requests made hostile in the ways
that used to give 5xx (issue 9): NUL in every string, the body nested 1,000 deep, every string made
huge, and OPTIONS and HEAD on every path (tests/support/hostile.py says what a good answer looks like).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core import NotSet

from tests.support.hostile import HUGE_CHARS, nested_in, problems_with, replace_at, string_leaves, with_nul

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def admin_headers(live_url: str) -> dict[str, str]:
    # acme, so that admin changes made by the fuzzer (budgets, prompt versions) never touch the demo org
    # the other tests use.
    body = {"email": "admin@acme.test", "password": "lyceum-demo", "org": "acme"}
    token = httpx.post(f"{live_url}/v1/auth/login", json=body, timeout=10).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _operations(live_url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{live_url}/schema/openapi.json")
    # Logout would revoke the token the rest of the run uses; its behaviour is covered in test_auth.py.
    return [op for op in (r.ok() for r in schema.get_all_operations()) if op.path != "/v1/auth/logout"]


def test_no_server_errors(live_url: str, admin_headers: dict[str, str]) -> None:
    """Every operation, with generated valid and invalid inputs, as an admin (the widest access)."""
    failures: list[str] = []
    statuses: list[int] = []
    operations = _operations(live_url)
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def run(case: Any) -> None:
            response = case.call(base_url=live_url, headers={**admin_headers, **(case.headers or {})})
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        run()
    assert not failures, "\n".join(failures[:20])
    assert len(statuses) >= 10 * len(operations)  # the run really exercised every operation
    assert any(400 <= status < 500 for status in statuses)


def test_hostile_variants_of_every_operation(live_url: str, admin_headers: dict[str, str]) -> None:
    """Valid requests from schemathesis, each turned hostile; the classes named in tests/support/hostile.py."""
    failures: list[str] = []
    sent: dict[str, int] = {}
    operations = _operations(live_url)
    with httpx.Client(base_url=live_url, timeout=60) as http:
        for operation in operations:
            _fuzz_hostile(http, operation, admin_headers, failures, sent)
    assert not failures, "\n".join(failures[:30])
    # Every class was really exercised.
    for kind, least in {"nul-body": 20, "nul-query": 10, "deep": 10, "huge-body": 20, "huge-query": 10}.items():
        assert sent.get(kind, 0) >= least, sent
    assert sent.get("options", 0) >= len(operations)
    assert sent.get("head", 0) >= len(operations)


def _fuzz_hostile(
    http: httpx.Client, operation: Any, admin: dict[str, str], failures: list[str], sent: dict[str, int]
) -> None:
    # Every declared query parameter, also those the generated case happens to leave out.
    query_names = [parameter.name for parameter in operation.query]

    @given(case=operation.as_strategy())
    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def run(case: Any) -> None:
        for kind, label, request, expected in _hostile(case, admin, query_names):
            response = http.send(http.build_request(**request))
            sent[kind] = sent.get(kind, 0) + 1
            failures.extend(problems_with(response, label))
            if expected and response.status_code != expected:
                failures.append(f"{label} -> {response.status_code}, expected {expected}")

    run()


def _hostile(
    case: Any, admin: dict[str, str], query_names: list[str]
) -> Iterator[tuple[str, str, dict[str, Any], int | None]]:
    """(class, label, httpx request arguments, expected status or None for "any 4xx or less")."""
    path = case.formatted_path
    headers = {**(case.headers or {}), **admin}  # the generated Authorization may be empty
    query = dict(case.query or {})
    base = {"method": case.method, "url": path, "params": query, "headers": headers}
    yield "options", f"OPTIONS {path}", {"method": "OPTIONS", "url": path}, 204
    yield "head", f"HEAD {path}", {"method": "HEAD", "url": path, "params": query, "headers": headers}, None
    for name in query_names:
        value = str(query.get(name, "value"))
        nul = {**base, "params": {**query, name: with_nul(value)}}
        yield "nul-query", f"{case.method} {path}?{name}=<NUL>", nul, 422
        huge = {**base, "params": {**query, name: "q" * 50_000}}
        yield "huge-query", f"{case.method} {path}?{name}=<huge>", huge, None
    body = case.body
    if isinstance(body, NotSet) or "json" not in (case.media_type or "") or not isinstance(body, (dict, list)):
        return
    yield "deep", f"{case.method} {path} <body nested 1000 deep>", {**base, "json": nested_in(body)}, 400
    for pointer in string_leaves(body):
        yield (
            "nul-body",
            f"{case.method} {path} NUL at {pointer}",
            {**base, "json": replace_at(body, pointer, with_nul)},
            422,
        )
        huge_body = replace_at(body, pointer, lambda _: "h" * HUGE_CHARS)
        yield "huge-body", f"{case.method} {path} huge string at {pointer}", {**base, "json": huge_body}, None
