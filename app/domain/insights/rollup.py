"""The incremental refresh of the AI usage rollup (``ai_usage_rollup``, migration 0019).

Each run, per org with new rows (found by the definer function ``lyceum_ai_usage_orgs_to_refresh``, ids
only), in one transaction of that org under row-level security:

1. take the org's advisory lock (transaction-scoped): two workers refreshing at once take turns, and the
   second recomputes the same buckets to the same values;
2. find the UTC hours touched since the watermark minus ``margin``: hours of interactions created since,
   and hours of interactions that received a learner rating since (ratings come later than their turn);
3. recompute those hours whole from the raw rows (delete, then insert the aggregation), so a bucket
   refreshed twice is never counted twice, then the days holding them from their hours;
4. move the watermark to this transaction's start time.

Late-committing rows: a row is stamped when it is written, not when it commits, so one committed after a
refresh's snapshot may carry a time before the new watermark. The next refresh still sees it as long as
its transaction lasted less than ``margin`` (ten minutes by default; tutor turns write their row in a
transaction of milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database
from app.lib.histogram import TTFT_BOUNDS_MS, TTFT_BUCKETS

DEFAULT_MARGIN: Final = timedelta(minutes=10)
CHUNK_HOURS: Final = 24  # hours recomputed per transaction when catching up on a backlog
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DIMS: Final = "course_id, model, prompt_version, purpose, provider"
_KEYS: Final = f"hour, {_DIMS}"
_H_DIMS: Final = ", ".join(f"h.{dim}" for dim in _DIMS.split(", "))

_ORGS = text("select org_id from lyceum_ai_usage_orgs_to_refresh(:margin)")
_LOCK = text("select pg_advisory_xact_lock(hashtextextended(:key, 0))")
_WATERMARK = text("select refreshed_through from ai_usage_refresh_state where org_id = :org")
_TOUCHED = text(
    "select date_trunc('hour', i.created_at, 'UTC') as hour from ai_interactions i "
    "where i.org_id = :org and i.created_at >= :since "
    "union "
    "select date_trunc('hour', i.created_at, 'UTC') from ai_feedback f "
    "join ai_interactions i on i.id = f.interaction_id "
    "where f.org_id = :org and f.source = 'learner_rating' and f.created_at >= :since"
)
_DELETE = text(
    "delete from ai_usage_rollup where org_id = :org and grain = 'hour' and bucket = any(cast(:hours as timestamptz[]))"
)
_DELETE_DAYS = text(
    "delete from ai_usage_rollup where org_id = :org and grain = 'day' and bucket = any(cast(:days as timestamptz[]))"
)
_HISTOGRAM = ", ".join(f"count(*) filter (where tb = {index})" for index in range(TTFT_BUCKETS))
# Only constants are spliced in (the key columns, the histogram's buckets); values are bound.
_INSERT = text(
    "with src as ("  # noqa: S608
    "  select i.id, i.course_id, i.model, i.prompt_version, i.purpose, i.provider, i.status, i.error_code,"
    "    i.input_tokens, i.output_tokens, i.cost_usd, i.latency_first_token_ms, i.guardrail_outcomes, h.hour,"
    "    width_bucket(i.latency_first_token_ms::float8, cast(:bounds as float8[])) as tb"
    "  from unnest(cast(:hours as timestamptz[])) as h(hour)"
    "  join ai_interactions i on i.org_id = :org"
    "    and i.created_at >= h.hour and i.created_at < h.hour + interval '1 hour'"
    "), ratings as ("
    "  select f.interaction_id, sum(f.rating) as total, count(*) as n from ai_feedback f"
    "  join src on src.id = f.interaction_id"
    "  where f.org_id = :org and f.source = 'learner_rating' and f.rating is not null group by f.interaction_id"
    "), triggers as ("
    f"  select {_KEYS}, jsonb_object_agg(policy, n) as by_policy from ("
    f"    select {_KEYS}, o->>'name' as policy, count(*) as n"
    "    from src cross join lateral jsonb_array_elements(src.guardrail_outcomes) as o"
    f"    group by {_KEYS}, o->>'name'"
    f"  ) per_policy group by {_KEYS}"
    "), sums as ("
    f"  select {_KEYS}, count(*) as turns,"
    "    count(*) filter (where src.error_code <> '') as errors,"
    "    count(*) filter (where src.status = 'blocked') as blocked,"
    "    coalesce(sum(src.input_tokens), 0) as input_tokens, coalesce(sum(src.output_tokens), 0) as output_tokens,"
    "    coalesce(sum(src.cost_usd), 0) as cost_usd,"
    "    count(src.latency_first_token_ms) as ttft_count, coalesce(sum(src.latency_first_token_ms), 0) as ttft_sum,"
    f"    array[{_HISTOGRAM}]::integer[] as ttft_hist,"
    "    count(*) filter (where jsonb_array_length(src.guardrail_outcomes) > 0) as guardrail_turns,"
    "    coalesce(sum(r.n), 0) as rating_count, coalesce(sum(r.total), 0) as rating_sum"
    "  from src left join ratings r on r.interaction_id = src.id"
    f"  group by {_KEYS}"
    ")"
    " insert into ai_usage_rollup (id, org_id, grain, bucket, course_id, model, prompt_version, purpose, provider,"
    "  turns, errors, blocked, input_tokens, output_tokens, cost_usd, ttft_count, ttft_sum_ms, ttft_hist,"
    "  guardrail_turns, guardrail_triggers, rating_count, rating_sum, created_at, updated_at)"
    " select gen_random_uuid(), :org, 'hour', s.hour, s.course_id, s.model, s.prompt_version, s.purpose, s.provider,"
    "  s.turns, s.errors, s.blocked, s.input_tokens, s.output_tokens, s.cost_usd, s.ttft_count, s.ttft_sum,"
    "  s.ttft_hist, s.guardrail_turns, coalesce(t.by_policy, '{}'::jsonb), s.rating_count, s.rating_sum,"
    "  now(), now()"
    " from sums s left join triggers t on t.hour = s.hour and t.course_id is not distinct from s.course_id"
    "  and t.model = s.model and t.prompt_version = s.prompt_version and t.purpose = s.purpose"
    "  and t.provider = s.provider"
)
_DAY_HISTOGRAM = ", ".join(f"sum(h.ttft_hist[{index + 1}])" for index in range(TTFT_BUCKETS))
# A day row is the sum of the day's hour rows (guardrail counts merged per policy).
_INSERT_DAYS = text(
    "with hours as ("  # noqa: S608
    "  select h.*, d.day from unnest(cast(:days as timestamptz[])) as d(day)"
    "  join ai_usage_rollup h on h.org_id = :org and h.grain = 'hour'"
    "    and h.bucket >= d.day and h.bucket < d.day + interval '1 day'"
    "), triggers as ("
    f"  select day, {_DIMS}, jsonb_object_agg(policy, n) as by_policy from ("
    f"    select day, {_DIMS}, p.key as policy, sum(p.value::bigint) as n"
    "    from hours cross join lateral jsonb_each_text(hours.guardrail_triggers) as p"
    f"    group by day, {_DIMS}, p.key"
    f"  ) per_policy group by day, {_DIMS}"
    "), sums as ("
    f"  select h.day, {_H_DIMS}, sum(h.turns) as turns,"
    "    sum(h.errors) as errors, sum(h.blocked) as blocked, sum(h.input_tokens) as input_tokens,"
    "    sum(h.output_tokens) as output_tokens, sum(h.cost_usd) as cost_usd, sum(h.ttft_count) as ttft_count,"
    f"    sum(h.ttft_sum_ms) as ttft_sum, array[{_DAY_HISTOGRAM}]::integer[] as ttft_hist,"
    "    sum(h.guardrail_turns) as guardrail_turns, sum(h.rating_count) as rating_count,"
    "    sum(h.rating_sum) as rating_sum"
    f"  from hours h group by h.day, {_H_DIMS}"
    ")"
    " insert into ai_usage_rollup (id, org_id, grain, bucket, course_id, model, prompt_version, purpose, provider,"
    "  turns, errors, blocked, input_tokens, output_tokens, cost_usd, ttft_count, ttft_sum_ms, ttft_hist,"
    "  guardrail_turns, guardrail_triggers, rating_count, rating_sum, created_at, updated_at)"
    " select gen_random_uuid(), :org, 'day', s.day, s.course_id, s.model, s.prompt_version, s.purpose, s.provider,"
    "  s.turns, s.errors, s.blocked, s.input_tokens, s.output_tokens, s.cost_usd, s.ttft_count, s.ttft_sum,"
    "  s.ttft_hist, s.guardrail_turns, coalesce(t.by_policy, '{}'::jsonb), s.rating_count, s.rating_sum,"
    "  now(), now()"
    " from sums s left join triggers t on t.day = s.day and t.course_id is not distinct from s.course_id"
    "  and t.model = s.model and t.prompt_version = s.prompt_version and t.purpose = s.purpose"
    "  and t.provider = s.provider"
)
_SAVE_WATERMARK = text(
    "insert into ai_usage_refresh_state (id, org_id, refreshed_through, created_at, updated_at) "
    "values (gen_random_uuid(), :org, :through, now(), now()) "
    "on conflict (org_id) do update set "
    "refreshed_through = greatest(ai_usage_refresh_state.refreshed_through, excluded.refreshed_through), "
    "updated_at = now()"
)


@dataclass(frozen=True)
class RefreshResult:
    orgs: int
    buckets: int  # hours recomputed, summed over orgs


def lock_key(org_id: UUID) -> str:
    return f"lyceum:ai_usage:{org_id}"


async def orgs_to_refresh(db: Database, margin: timedelta = DEFAULT_MARGIN) -> list[UUID]:
    async with db.transaction(None) as session:
        return list((await session.scalars(_ORGS, {"margin": margin})).all())


async def recompute_hours(session: AsyncSession, org_id: UUID, hours: list[datetime]) -> None:
    """Replace the org's rollup rows of ``hours`` by the aggregation of their raw rows (the caller holds
    the org's lock and its tenant transaction)."""
    if not hours:
        return
    await session.execute(_DELETE, {"org": org_id, "hours": hours})
    await session.execute(_INSERT, {"org": org_id, "hours": hours, "bounds": list(TTFT_BOUNDS_MS)})
    days = sorted({hour.astimezone(UTC).replace(hour=0) for hour in hours})
    await session.execute(_DELETE_DAYS, {"org": org_id, "days": days})
    await session.execute(_INSERT_DAYS, {"org": org_id, "days": days})


async def refresh_org(
    db: Database, org_id: UUID, margin: timedelta = DEFAULT_MARGIN, chunk_hours: int = CHUNK_HOURS
) -> int:
    """Bring one org's rollup up to date; the number of hours recomputed. A long backlog (the first run over
    an existing log) is recomputed ``chunk_hours`` at a time, each in its own transaction under the lock, so
    no statement runs for long; the watermark moves only after the last chunk, to the first one's start."""
    async with db.transaction(org_id) as session:
        await session.execute(_LOCK, {"key": lock_key(org_id)})
        watermark: datetime | None = await session.scalar(_WATERMARK, {"org": org_id})
        started: datetime = await session.scalar(text("select now()"))
        since = _EPOCH if watermark is None else watermark - margin
        hours = sorted((await session.scalars(_TOUCHED, {"org": org_id, "since": since})).all())
        await recompute_hours(session, org_id, hours[:chunk_hours])
        if len(hours) <= chunk_hours:
            await session.execute(_SAVE_WATERMARK, {"org": org_id, "through": started})
            return len(hours)
    # Ascending, so a day split across chunks is recomputed last with all its fresh hours.
    for first in range(chunk_hours, len(hours), chunk_hours):
        async with db.transaction(org_id) as session:
            await session.execute(_LOCK, {"key": lock_key(org_id)})
            await recompute_hours(session, org_id, hours[first : first + chunk_hours])
    async with db.transaction(org_id) as session:
        await session.execute(_LOCK, {"key": lock_key(org_id)})
        await session.execute(_SAVE_WATERMARK, {"org": org_id, "through": started})
    return len(hours)


async def recompute(db: Database, org_id: UUID, hours: set[datetime], chunk_hours: int = CHUNK_HOURS) -> int:
    """Recompute the org's rollup of ``hours`` (UTC hour starts) whatever its watermark: for rows written
    back in time (the demo history of ``app/demo_history.py``), which an incremental refresh never looks at.
    Chunked and locked like ``refresh_org``; the watermark does not move. The number of hours recomputed."""
    ordered = sorted(hours)
    for first in range(0, len(ordered), chunk_hours):
        async with db.transaction(org_id) as session:
            await session.execute(_LOCK, {"key": lock_key(org_id)})
            await recompute_hours(session, org_id, ordered[first : first + chunk_hours])
    return len(ordered)


async def refresh_all(db: Database, margin: timedelta = DEFAULT_MARGIN) -> RefreshResult:
    """One pass of the cron job over every org with rows to roll up."""
    orgs = await orgs_to_refresh(db, margin)
    buckets = 0
    for org_id in orgs:
        buckets += await refresh_org(db, org_id, margin)
    return RefreshResult(orgs=len(orgs), buckets=buckets)
