"""AI observability at 1M logged interactions (issue 17 §4): the usage rollup's refresh cost and the
dashboard queries' p95, against the same questions asked of the raw interaction log, in one run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/ai_usage_bench uv run python benchmarks/ai_usage.py \
        [--interactions 1000000] [--days 30] [--runs 20]

Fills the demo org's ``ai_interactions`` with ``--interactions`` synthetic rows over ``--days`` (one
INSERT ... SELECT over generate_series, as the table owner: 4 models (one the offline tutor), 3 tutor
prompt versions and one grading prompt, the org's courses, log-normal first-token latencies, 3 % with
guardrail outcomes, 2 % rated), then:

1. the first refresh (the whole log rolled up), wall time;
2. the incremental refresh per 10,000 new interactions (inserted "now", then ``refresh_org``), median of 3;
3. each dashboard read as the API runs it (``InsightsService``, the application role under RLS), and the
   same answer computed from the raw log (the baseline), interleaved, ``--runs`` times: p50/p95 in ms and
   the ratio raw/rollup.

Run it on a scratch database (it writes a million rows), never beside the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.engine import Database, app_url, create_engine, owner_url
from app.domain.insights.rollup import refresh_org
from app.domain.insights.services import InsightsService, window
from app.lib.security.principal import Principal
from benchmarks.procstat import cpu_seconds
from benchmarks.stack import start_stack

ROOT = Path(__file__).resolve().parents[1]

_FILL = text(
    "insert into ai_interactions (id, org_id, user_id, course_id, provider, error_code, purpose, content_hash,"
    " object_key, model, prompt_name, prompt_version, input_tokens, output_tokens, cost_usd,"
    " latency_first_token_ms, latency_total_ms, status, guardrail_outcomes, sources, created_at, updated_at)"
    " select gen_random_uuid(), :org, null, (cast(:courses as uuid[]))[1 + n % cardinality(cast(:courses as uuid[]))],"
    " case when n % 4 = 3 then 'offline' else 'anthropic' end, case when n % 97 = 0 then 'timeout' else '' end,"
    " case when n % 20 = 0 then 'grading' else 'tutor' end, repeat('0', 64), 'bench',"
    " (array['claude-a', 'claude-b', 'claude-c', 'offline'])[1 + n % 4], 'tutor',"
    " case when n % 20 = 0 then 'grading-v1' else (array['v1', 'v2', 'v3'])[1 + (n / 7) % 3] end,"
    " 200 + n % 900, 50 + n % 400, 0.0001 * (1 + n % 50),"
    " case when n % 50 = 0 then null else (exp(5.5 + 0.6 * sqrt(-2 * ln(random())) * cos(6.2832 * random())))::int end,"
    " 2000, case when n % 61 = 0 then 'blocked' else 'completed' end,"
    ' case when n % 33 = 0 then \'[{"name": "pii", "action": "redact", "score": 1.0, "detail": ""}]\'::jsonb'
    '  when n % 61 = 0 then \'[{"name": "injection", "action": "block", "score": 0.9, "detail": ""}]\'::jsonb'
    "  else '[]'::jsonb end, '[]'::jsonb,"
    " cast(:end as timestamptz) - cast(:span as interval) * (n::float8 / cast(:total as integer)),"
    " cast(:end as timestamptz) - cast(:span as interval) * (n::float8 / cast(:total as integer))"
    " from generate_series(1, cast(:total as integer)) as n"
)
_RATE = text(
    "insert into ai_feedback (id, org_id, source, user_id, interaction_id, rating, comment, details,"
    " created_at, updated_at)"
    " select gen_random_uuid(), i.org_id, 'learner_rating', :user, i.id, 1 + (abs(hashtext(i.id::text)) % 5), '',"
    " '{}'::jsonb, i.created_at, i.created_at from ai_interactions i"
    " where i.org_id = :org and i.object_key = 'bench' and abs(hashtext(i.id::text)) % 50 = 0"
)

# The baseline: the same answers from the raw log (what a dashboard without the rollup would run).
RAW_USAGE = text(
    "select model, date_trunc('day', created_at, 'UTC'), count(*), sum(input_tokens), sum(output_tokens),"
    " sum(cost_usd), percentile_cont(0.5) within group (order by latency_first_token_ms),"
    " percentile_cont(0.95) within group (order by latency_first_token_ms)"
    " from ai_interactions where created_at >= :start and created_at < :end group by 1, 2 order by 1, 2"
)
RAW_GUARDRAILS = text(
    "select o->>'name', date_trunc('day', created_at, 'UTC'), count(*) from ai_interactions"
    " cross join lateral jsonb_array_elements(guardrail_outcomes) as o"
    " where created_at >= :start and created_at < :end group by 1, 2"
)
RAW_PROVIDERS = text(
    "select date_trunc('day', created_at, 'UTC'), count(*), count(*) filter (where provider = 'offline')"
    " from ai_interactions where purpose = 'tutor' and created_at >= :start and created_at < :end group by 1"
)
RAW_RATINGS = text(
    "select i.model, i.prompt_version, count(distinct i.id), count(f.id), avg(f.rating) from ai_interactions i"
    " left join ai_feedback f on f.interaction_id = i.id and f.source = 'learner_rating'"
    " where i.purpose = 'tutor' and i.created_at >= :start and i.created_at < :end group by 1, 2"
)


async def fill(database_url: str, total: int, days: int) -> tuple[UUID, UUID, list[UUID]]:
    owner = create_async_engine(owner_url(database_url), connect_args={"command_timeout": None})  # a long fill
    try:
        async with owner.begin() as conn:
            org_id = await conn.scalar(text("select id from organizations where slug = 'demo'"))
            user_id = await conn.scalar(
                text("select user_id from memberships where org_id = :org and role = 'admin' limit 1"), {"org": org_id}
            )
            courses = list(await conn.scalars(text("select id from courses where org_id = :org"), {"org": org_id}))
            end = datetime.now(UTC) - timedelta(hours=1)
            await conn.execute(
                _FILL,
                {"org": org_id, "courses": courses, "end": end, "span": timedelta(days=days), "total": total},
            )
            await conn.execute(_RATE, {"org": org_id, "user": user_id})
        async with owner.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("analyze ai_interactions"))
            await conn.execute(text("analyze ai_feedback"))
    finally:
        await owner.dispose()
    return org_id, user_id, courses


async def add_new(database_url: str, org_id: UUID, courses: list[UUID], count: int) -> None:
    owner = create_async_engine(owner_url(database_url), connect_args={"command_timeout": None})
    try:
        async with owner.begin() as conn:
            now = datetime.now(UTC)
            await conn.execute(
                _FILL,
                {"org": org_id, "courses": courses, "end": now, "span": timedelta(minutes=5), "total": count},
            )
    finally:
        await owner.dispose()


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await work()
    return (time.perf_counter() - start) * 1000


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def run(total: int, days: int, runs: int) -> dict[str, float]:
    bench = await start_stack("ai-usage", LYCEUM_CONTENT_DIR=str(ROOT / "content"))
    figures: dict[str, float] = {}
    try:
        started = time.perf_counter()
        org_id, user_id, courses = await fill(bench.settings.database_url, total, days)
        figures["fill_seconds"] = time.perf_counter() - started
        # One connection, so its PostgreSQL backend's CPU time (/proc, the server is local) is the work's.
        db = Database(create_engine(app_url(bench.settings), pool_size=1), 1)
        try:
            async with db.transaction(None) as session:
                backend = int(await session.scalar(text("select pg_backend_pid()")) or 0)
            started = time.perf_counter()
            figures["first_refresh_buckets"] = await refresh_org(db, org_id)
            figures["first_refresh_seconds"] = time.perf_counter() - started
            increments, cpu = [], []
            for _ in range(3):
                await add_new(bench.settings.database_url, org_id, courses, 10_000)
                backend_cpu = cpu_seconds(backend)
                increments.append(await timed(lambda: refresh_org(db, org_id)))
                cpu.append((cpu_seconds(backend) - backend_cpu) * 1000)
            figures["refresh_per_10k_ms_median"] = statistics.median(increments)
            figures["refresh_per_10k_ms_max"] = max(increments)
            figures["refresh_per_10k_backend_cpu_ms_median"] = statistics.median(cpu)
            # A refresh with nothing new still recomputes the margin's hours (the late-row guard).
            figures["refresh_idle_ms"] = await timed(lambda: refresh_org(db, org_id))

            tenant = db.for_tenant(org_id, user_id)
            service = InsightsService(tenant, Principal(user_id=user_id, org_id=org_id, roles=frozenset({"admin"})))
            now = datetime.now(UTC)
            month = window("day", now - timedelta(days=days), now)
            week_hours = window("hour", now - timedelta(days=7), now)
            raw_params = {"start": month.start, "end": month.end}
            reads: dict[str, tuple[Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]] | None]] = {}

            def raw(sql: Any) -> Callable[[], Awaitable[Any]]:
                async def go() -> Any:
                    async with tenant.transaction() as session:
                        return (await session.execute(sql, raw_params)).all()

                return go

            reads["usage_by_model_day"] = (lambda: service.usage("model", month), raw(RAW_USAGE))
            reads["usage_by_course_day"] = (lambda: service.usage("course", month), None)
            reads["usage_by_prompt_version_day"] = (lambda: service.usage("prompt_version", month), None)
            reads["usage_by_org_day"] = (lambda: service.usage("org", month), None)
            reads["usage_by_model_hour_7d"] = (lambda: service.usage("model", week_hours), None)
            reads["guardrails_day"] = (lambda: service.guardrails(month), raw(RAW_GUARDRAILS))
            reads["providers_day"] = (lambda: service.providers(month), raw(RAW_PROVIDERS))
            reads["ratings"] = (lambda: service.ratings(month), raw(RAW_RATINGS))
            reads["grading_day"] = (lambda: service.grading(month), None)
            for name, (rollup, baseline) in reads.items():
                await rollup()  # warm: plans cached, pages in memory, as a dashboard's second view
                fast, slow, fast_cpu, slow_cpu = [], [], 0.0, 0.0
                for index in range(runs):
                    before = cpu_seconds(backend)
                    fast.append(await timed(rollup))
                    fast_cpu += cpu_seconds(backend) - before
                    if baseline is not None and index < max(3, runs // 4):  # the raw log is slow: fewer runs
                        before = cpu_seconds(backend)
                        slow.append(await timed(baseline))
                        slow_cpu += cpu_seconds(backend) - before
                figures[f"{name}_p50_ms"] = statistics.median(fast)
                figures[f"{name}_p95_ms"] = p95(fast)
                figures[f"{name}_backend_cpu_ms_mean"] = fast_cpu * 1000 / runs
                if slow:
                    figures[f"{name}_raw_p95_ms"] = p95(slow)
                    figures[f"{name}_raw_backend_cpu_ms_mean"] = slow_cpu * 1000 / len(slow)
                    figures[f"{name}_raw_over_rollup"] = p95(slow) / max(p95(fast), 0.001)
            async with tenant.transaction() as session:
                figures["rollup_rows"] = float(await session.scalar(text("select count(*) from ai_usage_rollup")) or 0)
                figures["interactions"] = float(await session.scalar(text("select count(*) from ai_interactions")) or 0)
        finally:
            await db.dispose()
    finally:
        bench.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    figures = asyncio.run(run(args.interactions, args.days, args.runs))
    for key, value in figures.items():
        print(f"{key:>40}: {value:,.1f}")


if __name__ == "__main__":
    main()
