"""Alerts (issue 17 item 5): rules (admins; thresholds checked per kind; every change audited), evaluation
(fires once per crossing even when two evaluations race, announced on the live feed, resolved when the metric
is back), the alerts list and acknowledgement (staff), tenant isolation, and the budget page's month-end
spend projection.

Evaluation tests run in a fresh organization of their own: the high costs and bad ratings they write must
not reach the demo org other tests read. A worker another module left running may evaluate the same rules
(its cron runs every minute), so the tests assert on the alerts table, not on which evaluation fired."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import AIFeedback, AIInteraction, Alert, AlertRule, AuditLogEntry
from app.domain.admin.spend import MIN_ELAPSED_SECONDS, month_bounds, month_spend
from app.domain.alerts.evaluation import evaluate_all, evaluate_org
from app.lib.events import EventBus
from app.lib.redis import create_redis
from tests.integration.credentials.issuer_helpers import fresh_org, org_of
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
async def db(settings: Settings, seeded: Any) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
async def admin(client: Client) -> dict[str, str]:
    return await auth_headers(client, "admin@demo.test", "demo")


@pytest.fixture(scope="module")
async def instructor(client: Client) -> dict[str, str]:
    return await auth_headers(client, "instructor@demo.test", "demo")


def interaction(
    org_id: uuid.UUID, *, cost: str = "0", tokens: int = 0, guardrails: int = 0, **more: Any
) -> AIInteraction:
    return AIInteraction(
        org_id=org_id,
        content_hash="0" * 64,
        object_key=f"test/{uuid.uuid4()}",
        model="claude-test",
        input_tokens=tokens,
        output_tokens=0,
        cost_usd=Decimal(cost),
        guardrail_outcomes=[{"name": "pii", "action": "redacted"}] * guardrails,
        **more,
    )


async def add_rule(db: Database, org_id: uuid.UUID, kind: str, threshold: float, window: int = 60) -> uuid.UUID:
    async with db.transaction(org_id) as session:
        rule = AlertRule(org_id=org_id, kind=kind, threshold=threshold, window_minutes=window, enabled=True)
        session.add(rule)
        await session.flush()
        return rule.id


async def alerts_of(db: Database, org_id: uuid.UUID, rule_id: uuid.UUID) -> list[Alert]:
    async with db.transaction(org_id) as session:
        return list(await session.scalars(select(Alert).where(Alert.rule_id == rule_id).order_by(Alert.fired_at)))


# ---------------------------------------------------------------------------------------------- rules


async def test_an_admin_adds_changes_and_removes_rules_and_each_change_is_audited(
    client: Client, admin: dict[str, str], db: Database, settings: Settings
) -> None:
    created = await client.post(
        "/v1/admin/alerts/rules", headers=admin, json={"kind": "rating_drop", "threshold": 3.5, "window_minutes": 120}
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["enabled"] is True
    assert rule["description"] == "Learners' average rating of the tutor falls below 3.5 of 5 over the last 2 hours"
    listed = await client.get("/v1/admin/alerts/rules", headers=admin)
    assert rule["id"] in [r["id"] for r in listed.json()]

    changed = await client.patch(
        f"/v1/admin/alerts/rules/{rule['id']}", headers=admin, json={"threshold": 4, "enabled": False}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["threshold"], changed.json()["enabled"]) == (4, False)
    assert (await client.delete(f"/v1/admin/alerts/rules/{rule['id']}", headers=admin)).status_code == 204
    assert (await client.delete(f"/v1/admin/alerts/rules/{rule['id']}", headers=admin)).status_code == 404

    org = await org_of(settings, "demo")
    async with db.transaction(org) as session:
        actions = list(
            await session.scalars(
                select(AuditLogEntry.action)
                .where(AuditLogEntry.entity_id == rule["id"])
                .order_by(AuditLogEntry.created_at)
            )
        )
    assert actions == ["alert_rule.created", "alert_rule.updated", "alert_rule.deleted"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"kind": "rating_drop", "threshold": 7}, "#/threshold"),  # a rating is 1-5
        ({"kind": "grading_disagreement", "threshold": 1.5}, "#/threshold"),  # a share is 0-1
        ({"kind": "guardrail_spike", "threshold": 0}, "#/threshold"),
        ({"kind": "cost_burn_rate", "threshold": 5, "window_minutes": 1}, "#/window_minutes"),
        ({"kind": "cost_burn_rate", "threshold": 5, "window_minutes": 20_000}, "#/window_minutes"),
        ({"kind": "latency", "threshold": 5}, "#/kind"),
        ({"kind": "cost_burn_rate", "threshold": 5, "extra": 1}, None),
    ],
    ids=["rating-above-5", "share-above-1", "zero-count", "window-too-short", "window-too-long", "kind", "unknown"],
)
async def test_a_rule_that_cannot_mean_anything_is_refused(
    client: Client, admin: dict[str, str], body: dict[str, Any], pointer: str | None
) -> None:
    response = await client.post("/v1/admin/alerts/rules", headers=admin, json=body)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if pointer:
        assert pointer in [e.get("pointer") for e in response.json().get("errors", [])], response.text


async def test_instructors_see_and_acknowledge_alerts_but_do_not_set_rules(
    client: Client, admin: dict[str, str], instructor: dict[str, str], db: Database, settings: Settings
) -> None:
    learner = await auth_headers(client, "learner@demo.test", "demo")
    denied = await client.post(
        "/v1/admin/alerts/rules", headers=instructor, json={"kind": "cost_burn_rate", "threshold": 1}
    )
    assert denied.status_code == 403
    assert (await client.get("/v1/alerts", headers=learner)).status_code == 403

    org = await org_of(settings, "demo")
    now = datetime.now(UTC)
    async with db.transaction(org) as session:
        alert = Alert(org_id=org, kind="guardrail_spike", value=12, threshold=10, window_minutes=60, fired_at=now)
        session.add(alert)
        await session.flush()
        alert_id = alert.id

    listed = await client.get("/v1/alerts?state=unacknowledged", headers=instructor)
    assert listed.status_code == 200, listed.text
    mine = [a for a in listed.json()["items"] if a["id"] == str(alert_id)]
    assert mine
    assert mine[0]["message"] == "Guardrails acted on 12 messages in the last hour (alert at 10)"

    acked = await client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=instructor)
    assert acked.status_code == 200, acked.text
    first = acked.json()
    assert first["acknowledged_at"]
    assert first["acknowledged_by"]
    again = await client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=admin)
    assert again.json()["acknowledged_by"] == first["acknowledged_by"]  # the first person stays
    listed = await client.get("/v1/alerts?state=unacknowledged&limit=100", headers=instructor)
    assert str(alert_id) not in [a["id"] for a in listed.json()["items"]]

    acme = await auth_headers(client, "admin@acme.test", "acme")
    assert (await client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=acme)).status_code == 404
    assert str(alert_id) not in [
        a["id"] for a in (await client.get("/v1/alerts?limit=100", headers=acme)).json()["items"]
    ]
    assert (await client.get("/v1/alerts?state=bogus", headers=instructor)).status_code in (400, 422)


# ---------------------------------------------------------------------------------------------- evaluation


async def test_a_cost_burn_fires_once_even_when_two_evaluations_race_and_resolves_when_spend_calms(
    db: Database, settings: Settings
) -> None:
    org, _ = await fresh_org(settings, "Alerts Academy")
    rule_id = await add_rule(db, org, "cost_burn_rate", threshold=5.0, window=60)
    async with db.transaction(org) as session:
        session.add(interaction(org, cost="3.000000"))  # $3 in the last hour: under $5 an hour
    assert await evaluate_org(db, org) == []
    async with db.transaction(org) as session:
        session.add(interaction(org, cost="4.000000"))  # $7 in the last hour

    await asyncio.gather(evaluate_org(db, org), evaluate_org(db, org))
    alerts = await alerts_of(db, org, rule_id)
    assert len(alerts) == 1
    assert alerts[0].resolved_at is None
    assert alerts[0].value == pytest.approx(7.0)
    assert await evaluate_org(db, org) == []  # still firing: no second alert

    # Two hours on, the hour's spend is gone: the alert resolves; a new crossing fires a new one.
    later = datetime.now(UTC) + timedelta(hours=2)
    await evaluate_org(db, org, now=later)
    assert (await alerts_of(db, org, rule_id))[0].resolved_at is not None


async def test_a_fired_alert_is_announced_on_the_live_feed(db: Database, settings: Settings) -> None:
    org, _ = await fresh_org(settings, "Feed Academy")
    rule_id = await add_rule(db, org, "guardrail_spike", threshold=2, window=30)
    async with db.transaction(org) as session:
        session.add_all([interaction(org, guardrails=1), interaction(org, guardrails=2)])
    redis = create_redis(settings.redis_url)
    try:
        bus = EventBus(redis, settings.redis_key_prefix)
        await evaluate_all(db, bus)
        events = await bus.replay(org, None, 50)
    finally:
        await redis.aclose()
    alerts = await alerts_of(db, org, rule_id)
    assert len(alerts) == 1
    fired = [e for e in events if e.type == "alert.fired"]
    # A worker of another module may have evaluated first: then it announced the alert (on the same bus).
    assert [e.data["alert_id"] for e in fired] == [str(alerts[0].id)]
    assert fired[0].data["kind"] == "guardrail_spike"
    assert fired[0].data["value"] == 2


async def test_quality_rules_need_enough_samples_and_fire_on_the_right_side(db: Database, settings: Settings) -> None:
    org, _ = await fresh_org(settings, "Quality Academy")
    learner_id = await _any_user(settings)
    rating_rule = await add_rule(db, org, "rating_drop", threshold=3.0)
    grading_rule = await add_rule(db, org, "grading_disagreement", threshold=0.5)
    async with db.transaction(org) as session:
        session.add_all(AIFeedback(org_id=org, source="learner_rating", user_id=learner_id, rating=1) for _ in range(4))
        session.add_all(
            AIFeedback(org_id=org, source="human_review", user_id=learner_id, details={"decision": d})
            for d in ("override", "override")
        )
    await evaluate_org(db, org)
    # Four ratings and two reviews: too few to judge (five and three needed).
    assert await alerts_of(db, org, rating_rule) == []
    assert await alerts_of(db, org, grading_rule) == []

    async with db.transaction(org) as session:
        session.add(AIFeedback(org_id=org, source="learner_rating", user_id=learner_id, rating=5))  # avg 1.8
        session.add(AIFeedback(org_id=org, source="human_review", user_id=learner_id, details={"decision": "accept"}))
    await evaluate_org(db, org)
    [rating_alert] = await alerts_of(db, org, rating_rule)
    [grading_alert] = await alerts_of(db, org, grading_rule)
    assert rating_alert.value == pytest.approx(1.8)
    assert grading_alert.value == pytest.approx(2 / 3)


async def _any_user(settings: Settings) -> uuid.UUID:
    from tests.integration.credentials.issuer_helpers import owner_execute

    rows = await owner_execute(settings, "select id from users where email = 'learner@demo.test'")
    return uuid.UUID(str(rows[0][0]))


# ---------------------------------------------------------------------------------------------- spend


async def test_the_budget_page_projects_month_end_spend_per_org_and_course(
    client: Client, admin: dict[str, str], db: Database, settings: Settings
) -> None:
    """The API's shape and roles on the demo org (other test workers add tutor turns to it meanwhile, so only
    lower bounds hold there); the exact figures in a fresh org with a fixed clock, below."""
    before = (await client.get("/v1/admin/budgets/spend", headers=admin)).json()
    org = await org_of(settings, "demo")
    course_id = uuid.UUID((await client.get("/v1/courses", headers=admin)).json()["items"][0]["id"])
    async with db.transaction(org) as session:
        session.add(interaction(org, cost="0.250000", tokens=1000, course_id=course_id, purpose="tutor"))
        session.add(interaction(org, cost="0.100000", tokens=500, course_id=course_id, purpose="grading"))

    response = await client.get("/v1/admin/budgets/spend", headers=admin)
    assert response.status_code == 200, response.text
    spend = response.json()
    start, _ = month_bounds(datetime.now(UTC))
    assert spend["month_start"].startswith(start.strftime("%Y-%m-%d"))
    assert 0 < spend["elapsed"] <= 1
    org_line = spend["org"]
    assert org_line["tokens_used"] - before["org"]["tokens_used"] >= 1000
    assert org_line["cost_usd"] - before["org"]["cost_usd"] >= 0.35 - 1e-6
    assert org_line["projected_tokens"] >= org_line["tokens_used"]
    course = next(c for c in spend["courses"] if c["id"] == str(course_id))
    assert course["tokens_used"] >= 1000
    assert course["limit_tokens"]

    instructor = await auth_headers(client, "instructor@demo.test", "demo")
    assert (await client.get("/v1/admin/budgets/spend", headers=instructor)).status_code == 403


async def test_the_projection_is_the_pace_so_far_over_the_whole_month(db: Database, settings: Settings) -> None:
    org, _ = await fresh_org(settings, "Spend Academy")
    now = datetime.now(UTC)
    start, end = month_bounds(now)
    async with db.transaction(org) as session:
        # Tutor tokens count against the budget; grading's do not, but its cost is spend.
        session.add(interaction(org, cost="0.250000", tokens=1000, purpose="tutor"))
        session.add(interaction(org, cost="0.100000", tokens=500, purpose="grading"))
    async with db.transaction(org) as session:
        view = await month_spend(session, settings, org, now)
    elapsed = max((now - start).total_seconds(), MIN_ELAPSED_SECONDS) / (end - start).total_seconds()
    assert view.org.tokens_used == 1000
    assert view.org.cost_usd == pytest.approx(0.35)
    assert view.org.projected_tokens == round(1000 / elapsed)
    assert view.org.projected_cost_usd == pytest.approx(round(0.35 / elapsed, 2))
    assert view.org.limit_tokens == settings.budget_org_monthly_tokens
    assert view.org.projected_share == pytest.approx(round(view.org.projected_tokens / view.org.limit_tokens, 3))
    assert view.courses == []  # no course on these interactions


async def test_rules_are_the_orgs_own(client: Client, admin: dict[str, str]) -> None:
    created = await client.post(
        "/v1/admin/alerts/rules", headers=admin, json={"kind": "cost_burn_rate", "threshold": 50}
    )
    rule_id = created.json()["id"]
    acme = await auth_headers(client, "admin@acme.test", "acme")
    assert rule_id not in [r["id"] for r in (await client.get("/v1/admin/alerts/rules", headers=acme)).json()]
    assert (
        await client.patch(f"/v1/admin/alerts/rules/{rule_id}", headers=acme, json={"enabled": False})
    ).status_code == 404
    assert (await client.delete(f"/v1/admin/alerts/rules/{rule_id}", headers=admin)).status_code == 204
