"""The AI observability API (``/v1/admin/ai/...``): the usage contract, its numbers against the rollup's
rows, every read endpoint's shape, bad parameters as 4xx problems (never a 5xx), admins only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.db.engine import Database
from app.domain.insights.rollup import refresh_org
from tests.integration.insights.conftest import Client, add_interactions, add_rating
from tests.support.stack import auth_headers

POINT_FIELDS = {"t", "input_tokens", "output_tokens", "cost_usd", "ttft_p50_ms", "ttft_p95_ms", "turns"}


async def test_usage_answers_the_contract_with_the_rollups_numbers(
    client: Client,
    demo_admin: dict[str, str],
    db: Database,
    demo_org: uuid.UUID,
    demo_admin_id: uuid.UUID,
    unique_model: str,
) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "model": unique_model,
            "created_at": now - timedelta(minutes=i),
            "input_tokens": 200,
            "output_tokens": 20,
            "cost_usd": Decimal("0.002"),
            "latency_first_token_ms": 100 * (i + 1),
            "guardrail_outcomes": [{"name": "off_topic", "action": "warn", "score": 0.7, "detail": ""}]
            if i < 2
            else [],
        }
        for i in range(10)
    ]
    ids = await add_interactions(db, demo_org, rows)
    await add_rating(db, demo_org, demo_admin_id, ids[0], 4)
    await refresh_org(db, demo_org, timedelta(hours=1))

    params = {
        "group_by": "model",
        "bucket": "day",
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
    }
    response = await client.get("/v1/admin/ai/usage", params=params, headers=demo_admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"series", "scope"}
    assert body["scope"] == "org"  # the demo org operates nothing in this session (test_platform.py)
    [series] = [s for s in body["series"] if s["key"] == unique_model]
    assert set(series) == {"key", "points"}
    assert all(set(p) == POINT_FIELDS for p in series["points"])
    assert sum(p["turns"] for p in series["points"]) == 10
    assert sum(p["input_tokens"] for p in series["points"]) == 2000
    assert sum(p["output_tokens"] for p in series["points"]) == 200
    assert abs(sum(p["cost_usd"] for p in series["points"]) - 0.02) < 1e-9
    if len(series["points"]) == 1:  # the ten minutes did not straddle midnight
        p50, p95 = series["points"][0]["ttft_p50_ms"], series["points"][0]["ttft_p95_ms"]
        assert 500 * 0.75 <= p50 <= 500 * 1.25
        assert 950 * 0.75 <= p95 <= 1000 * 1.25

    hourly = await client.get("/v1/admin/ai/usage", params={**params, "bucket": "hour"}, headers=demo_admin)
    [series] = [s for s in hourly.json()["series"] if s["key"] == unique_model]
    assert sum(p["turns"] for p in series["points"]) == 10
    for group_by in ("course", "prompt_version", "org"):
        grouped = await client.get("/v1/admin/ai/usage", params={**params, "group_by": group_by}, headers=demo_admin)
        assert grouped.status_code == 200, grouped.text
    org = await client.get("/v1/admin/ai/usage", params={**params, "group_by": "org"}, headers=demo_admin)
    assert [s["key"] for s in org.json()["series"]] == ["demo"]

    window = {k: params[k] for k in ("from", "to")}
    guardrails = (await client.get("/v1/admin/ai/guardrails", params=window, headers=demo_admin)).json()
    assert set(guardrails) == {"points", "series"}
    assert any(s["key"] == "off_topic" and sum(p["triggers"] for p in s["points"]) >= 2 for s in guardrails["series"])
    providers = (await client.get("/v1/admin/ai/providers", params=window, headers=demo_admin)).json()
    assert any(p["key"] == "offline" and p["turns"] >= 10 for p in providers["providers"])
    assert all(0 <= p["offline_share"] <= 1 for p in providers["points"] if p["offline_share"] is not None)
    ratings = (await client.get("/v1/admin/ai/ratings", params=window, headers=demo_admin)).json()
    [row] = [r for r in ratings["rows"] if r["model"] == unique_model]
    assert (row["turns"], row["ratings"], row["rating_avg"]) == (10, 1, 4.0)
    grading = await client.get("/v1/admin/ai/grading", params=window, headers=demo_admin)
    assert grading.status_code == 200, grading.text
    for point in grading.json()["points"]:
        assert set(point) == {"t", "ai_graded", "escalated", "escalation_rate", "reviewed", "agreed", "agreement_rate"}


async def test_the_defaults_answer_without_parameters(client: Client, demo_admin: dict[str, str]) -> None:
    for path in ("usage", "guardrails", "providers", "grading", "ratings"):
        response = await client.get(f"/v1/admin/ai/{path}", headers=demo_admin)
        assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("usage", {"group_by": "user"}),
        ("usage", {"bucket": "week"}),
        ("usage", {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}),
        ("usage", {"from": "2026-11-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}),
        ("usage", {"bucket": "hour", "from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}),
        ("usage", {"bucket": "day", "from": "2020-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}),
        ("usage", {"from": "yesterday"}),
        ("usage", {"to": "2026-13-45T99:00:00Z"}),
        ("guardrails", {"bucket": "minute"}),
        ("providers", {"from": "not-a-date"}),
        ("grading", {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}),
        ("ratings", {"from": "2020-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}),
    ],
)
async def test_bad_parameters_are_problems_not_errors(
    client: Client, demo_admin: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    response = await client.get(f"/v1/admin/ai/{path}", params=params, headers=demo_admin)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]


async def test_instructors_and_admins_read_the_dashboards_learners_do_not(client: Client) -> None:
    instructor = await auth_headers(client, "instructor@demo.test", "demo")
    learner = await auth_headers(client, "learner@demo.test", "demo")
    assert (await client.get("/v1/admin/ai/usage", headers=instructor)).status_code == 200
    response = await client.get("/v1/admin/ai/usage", headers=learner)
    assert response.status_code == 403, response.text
    assert (await client.get("/v1/admin/ai/usage")).status_code == 401
