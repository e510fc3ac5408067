"""The usage rollup (``ai_usage_rollup``): equal to the raw aggregation, refreshed incrementally (new rows,
late rows and late ratings counted exactly once), safe under two refreshes at once, isolated per org."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text

from app.config import Settings
from app.db.engine import Database
from app.db.models import AIUsageRollup
from app.domain.insights.rollup import refresh_all, refresh_org
from app.lib.histogram import merge, percentile
from tests.integration.insights.conftest import add_interactions, add_rating

# Tests put rows a few hours back and look again that far: the refresh's margin is widened to cover them.
WIDE = timedelta(days=2)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def _rollup(db: Database, org: uuid.UUID, model: str, grain: str = "hour") -> list[AIUsageRollup]:
    async with db.transaction(org) as session:
        query = (
            select(AIUsageRollup)
            .where(AIUsageRollup.model == model, AIUsageRollup.grain == grain)
            .order_by(AIUsageRollup.bucket, AIUsageRollup.prompt_version)
        )
        return list(await session.scalars(query))


async def _raw(db: Database, org: uuid.UUID, model: str) -> list[Any]:
    sql = text(
        "select date_trunc('hour', created_at, 'UTC') as h, course_id, prompt_version, count(*),"
        " sum(input_tokens), sum(output_tokens), sum(cost_usd), count(latency_first_token_ms),"
        " coalesce(sum(latency_first_token_ms), 0), count(*) filter (where status = 'blocked'),"
        " count(*) filter (where error_code <> ''),"
        " count(*) filter (where jsonb_array_length(guardrail_outcomes) > 0)"
        " from ai_interactions where model = :model group by 1, 2, 3 order by 1, 2, 3"
    )
    async with db.transaction(org) as session:
        return list((await session.execute(sql, {"model": model})).all())


async def test_the_rollup_equals_the_raw_aggregation(
    db: Database, demo_org: uuid.UUID, demo_admin_id: uuid.UUID, unique_model: str
) -> None:
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    latencies = [5, 40, 90, 120, 250, 400, 800, 1500, 3000, 90_000]
    for hours_back in (1, 2, 5):
        for index, latency in enumerate(latencies):
            rows.append(
                {
                    "model": unique_model,
                    "created_at": now - timedelta(hours=hours_back, minutes=index),
                    "prompt_version": "v2" if index % 3 == 0 else "v1",
                    "input_tokens": 100 + index,
                    "output_tokens": 10 * index,
                    "cost_usd": Decimal("0.000125") * (index + 1),
                    "latency_first_token_ms": None if index == 4 else latency,
                    "status": "blocked" if index == 7 else "completed",
                    "error_code": "provider_timeout" if index == 8 else "",
                    "guardrail_outcomes": (
                        [{"name": "pii", "action": "redact", "score": 1.0, "detail": ""}]
                        + ([{"name": "injection", "action": "block", "score": 0.9, "detail": ""}] if index == 7 else [])
                        if index in (2, 7)
                        else []
                    ),
                }
            )
    ids = await add_interactions(db, demo_org, rows)
    await add_rating(db, demo_org, demo_admin_id, ids[0], 5)
    await add_rating(db, demo_org, demo_admin_id, ids[1], 2)
    # Two hours per transaction: the backlog path (a first run over an existing log) gives the same rows.
    await refresh_org(db, demo_org, WIDE, chunk_hours=2)

    rollup = await _rollup(db, demo_org, unique_model)
    raw = await _raw(db, demo_org, unique_model)
    assert [(r.bucket, r.course_id, r.prompt_version) for r in rollup] == [(r[0], r[1], r[2]) for r in raw]
    for agg, expected in zip(rollup, raw, strict=True):
        assert (agg.turns, agg.input_tokens, agg.output_tokens) == (expected[3], expected[4], expected[5])
        assert agg.cost_usd == expected[6]
        assert (agg.ttft_count, agg.ttft_sum_ms) == (expected[7], expected[8])
        assert (agg.blocked, agg.errors, agg.guardrail_turns) == (expected[9], expected[10], expected[11])
        assert sum(agg.ttft_hist) == agg.ttft_count
    assert sum(r.guardrail_triggers.get("pii", 0) for r in rollup) == 6
    assert sum(r.guardrail_triggers.get("injection", 0) for r in rollup) == 3
    assert (sum(r.rating_count for r in rollup), sum(r.rating_sum for r in rollup)) == (2, 7)
    # The day rows are the sums of their hours.
    days = await _rollup(db, demo_org, unique_model, "day")
    for field in ("turns", "input_tokens", "output_tokens", "cost_usd", "ttft_count", "blocked", "rating_sum"):
        assert sum(getattr(r, field) for r in days) == sum(getattr(r, field) for r in rollup), field
    assert merge([r.ttft_hist for r in days]) == merge([r.ttft_hist for r in rollup])
    assert sum(r.guardrail_triggers.get("pii", 0) for r in days) == 6

    # Percentiles from the merged histograms stay within the documented bound of the exact ones.
    merged = merge([r.ttft_hist for r in rollup])
    exact = sorted(latency for latency in latencies if latency != 250) * 3
    for q in (0.5, 0.95):
        estimate = percentile(merged, q)
        assert estimate is not None
        async with db.transaction(demo_org) as session:
            true = await session.scalar(
                text(
                    "select percentile_disc(cast(:q as float8)) within group (order by latency_first_token_ms)"
                    " from ai_interactions where model = :m"
                ),
                {"q": q, "m": unique_model},
            )
        assert true is not None
        assert true in exact
        if true < 60_000:
            assert abs(estimate - true) <= max(10.0, 0.25 * true), (q, estimate, true)


async def test_incremental_refresh_counts_new_late_rows_and_late_ratings_exactly_once(
    db: Database, demo_org: uuid.UUID, demo_admin_id: uuid.UUID, unique_model: str
) -> None:
    await refresh_org(db, demo_org)  # the watermark is now
    now = datetime.now(UTC)
    [first] = await add_interactions(db, demo_org, [{"model": unique_model, "created_at": now}])
    await refresh_org(db, demo_org)
    await refresh_org(db, demo_org)  # nothing new: the same buckets, recomputed to the same values
    assert sum(r.turns for r in await _rollup(db, demo_org, unique_model)) == 1

    # A row stamped before the watermark (its transaction committed late), within the margin: picked up.
    await add_interactions(db, demo_org, [{"model": unique_model, "created_at": now - timedelta(minutes=3)}])
    await refresh_org(db, demo_org)
    assert sum(r.turns for r in await _rollup(db, demo_org, unique_model)) == 2

    # A rating given now of a turn from two hours ago re-opens that older hour.
    [old] = await add_interactions(db, demo_org, [{"model": unique_model, "created_at": now - timedelta(hours=2)}])
    await refresh_org(db, demo_org, WIDE)
    await add_rating(db, demo_org, demo_admin_id, old, 4)
    await add_rating(db, demo_org, demo_admin_id, first, 3)
    await refresh_org(db, demo_org)
    rollup = await _rollup(db, demo_org, unique_model)
    assert sum(r.turns for r in rollup) == 3
    assert sum(r.turns for r in await _rollup(db, demo_org, unique_model, "day")) == 3
    by_hour = {r.bucket: r for r in rollup}
    assert by_hour[_hour(now - timedelta(hours=2))].rating_sum == 4
    assert (sum(r.rating_count for r in rollup), sum(r.rating_sum for r in rollup)) == (2, 7)


async def test_two_refreshes_at_once_agree_and_count_once(
    settings: Settings, db: Database, demo_org: uuid.UUID, unique_model: str
) -> None:
    now = datetime.now(UTC)
    await add_interactions(
        db, demo_org, [{"model": unique_model, "created_at": now - timedelta(minutes=i)} for i in range(40)]
    )
    other = Database.from_settings(settings)  # a second worker: its own connections
    try:
        await asyncio.gather(refresh_org(db, demo_org), refresh_org(other, demo_org), refresh_all(other))
    finally:
        await other.dispose()
    assert sum(r.turns for r in await _rollup(db, demo_org, unique_model)) == 40


async def test_an_org_never_sees_another_orgs_rollup(
    db: Database, demo_org: uuid.UUID, client: Any, acme_admin: dict[str, str], unique_model: str
) -> None:
    await add_interactions(db, demo_org, [{"model": unique_model, "created_at": datetime.now(UTC)}])
    await refresh_all(db)
    assert await _rollup(db, demo_org, unique_model)
    acme = uuid.UUID((await client.get("/v1/me", headers=acme_admin)).json()["org_id"])
    async with db.transaction(acme) as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(AIUsageRollup).where(AIUsageRollup.org_id == demo_org)
            )
            == 0
        )
    response = await client.get("/v1/admin/ai/usage", params={"group_by": "model"}, headers=acme_admin)
    assert response.status_code == 200, response.text
    assert unique_model not in {s["key"] for s in response.json()["series"]}
    response = await client.get("/v1/admin/ai/usage", params={"group_by": "org"}, headers=acme_admin)
    assert {s["key"] for s in response.json()["series"]} <= {"acme"}
