"""AI observability reads for org admins: usage, guardrails, offline-tutor share and ratings from the hourly
rollup (``ai_usage_rollup``: O(buckets), never the interaction log), grading agreement and escalations from
grades and reviews (one row per submission, far fewer than interactions). Row-level security scopes every
read to the caller's org; ``group_by=org`` answers the caller's org only, except for platform operators
(the admins of LYCEUM_PLATFORM_ORG), who read every org's rollup through a definer function that checks them
in the database (``lyceum_platform_ai_usage``, migration 0023)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import text

from app.domain.base import TenantService
from app.domain.insights.schemas import (
    Bucket,
    GradingOut,
    GradingPoint,
    GroupBy,
    GuardrailPoint,
    GuardrailsOut,
    PolicyPoint,
    PolicySeries,
    ProviderPoint,
    ProvidersOut,
    ProviderTotal,
    RatingRow,
    RatingsOut,
    UsageOut,
    UsagePoint,
    UsageSeries,
)
from app.lib.errors import MalformedRequest
from app.lib.histogram import TTFT_BUCKETS, percentile

OFFLINE_PROVIDER: Final = "offline"
# The longest range per bucket: 31 days of hours (744 points per series), 366 days of days.
MAX_RANGE: Final[dict[str, timedelta]] = {"hour": timedelta(days=31), "day": timedelta(days=366)}
DEFAULT_RANGE: Final[dict[str, timedelta]] = {"hour": timedelta(hours=48), "day": timedelta(days=30)}

_KEY_SQL: Final[dict[str, str]] = {
    "model": "u.model",
    "prompt_version": "u.prompt_version",
    # A course's slug names it in the org; a deleted course keeps its id; turns outside a course: "".
    "course": "coalesce(c.slug, u.course_id::text, '')",
    "org": "o.slug",
}
_HIST_SUMS: Final = ", ".join(f"coalesce(sum(u.ttft_hist[{i + 1}]), 0)" for i in range(TTFT_BUCKETS))


@dataclass(frozen=True)
class Window:
    """A validated [start, end) range, aligned to whole buckets."""

    bucket: Bucket
    start: datetime
    end: datetime


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _floor(moment: datetime, bucket: Bucket) -> datetime:
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if bucket == "day" else moment


def window(bucket: Bucket, start: datetime | None, end: datetime | None, now: datetime | None = None) -> Window:
    """The range asked for, checked (``from`` before ``to``, not longer than the bucket allows) and widened
    to whole buckets. Times without a zone are UTC. Defaults: up to now, over 48 hours or 30 days."""
    end = _utc(end) if end is not None else (now or datetime.now(UTC))
    start = _utc(start) if start is not None else end - DEFAULT_RANGE[bucket]
    if start >= end:
        message = "'from' must be before 'to'"
        raise MalformedRequest(message, errors=[{"field": "from", "message": message}])
    if end - start > MAX_RANGE[bucket]:
        message = f"The range is too long for bucket={bucket}: at most {MAX_RANGE[bucket].days} days"
        raise MalformedRequest(message, errors=[{"field": "to", "message": message}])
    aligned_end = _floor(end, bucket)
    if aligned_end < end:
        aligned_end += timedelta(days=1) if bucket == "day" else timedelta(hours=1)
    return Window(bucket, _floor(start, bucket), aligned_end)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(eq=False, repr=False)
class InsightsService(TenantService):
    async def _rows(self, sql: str, params: dict[str, Any]) -> list[Any]:
        async with self._tx() as session:
            return list((await session.execute(text(sql), params)).all())

    @staticmethod
    def _range(w: Window) -> dict[str, Any]:
        return {"bucket": w.bucket, "start": w.start, "end": w.end}

    async def is_platform_operator(self) -> bool:
        """Whether the caller may read every org's figures (the database decides: migration 0023)."""
        rows = await self._rows("select lyceum_is_platform_operator()", {})
        return bool(rows[0][0])

    async def usage(self, group_by: GroupBy, w: Window) -> UsageOut:
        if group_by == "org" and await self.is_platform_operator():
            return await self._platform_usage(w)
        key = _KEY_SQL[group_by]
        joins = {
            "course": "left join courses c on c.id = u.course_id",
            "org": "join organizations o on o.id = u.org_id",
        }.get(group_by, "")
        sql = (  # only constants are spliced in (_KEY_SQL, the joins, the histogram); values are bound
            f"select {key} as key, u.bucket as t, sum(u.turns), sum(u.input_tokens),"  # noqa: S608
            f" sum(u.output_tokens), sum(u.cost_usd), {_HIST_SUMS}"
            f" from ai_usage_rollup u {joins}"
            " where u.grain = :bucket and u.bucket >= :start and u.bucket < :end group by 1, 2 order by 1, 2"
        )
        series: dict[str, list[UsagePoint]] = defaultdict(list)
        for row in await self._rows(sql, self._range(w)):
            histogram = [int(count) for count in row[6:]]
            series[str(row[0])].append(
                UsagePoint(
                    t=row[1],
                    input_tokens=int(row[3]),
                    output_tokens=int(row[4]),
                    cost_usd=float(round(Decimal(row[5]), 6)),
                    ttft_p50_ms=_ms(percentile(histogram, 0.5)),
                    ttft_p95_ms=_ms(percentile(histogram, 0.95)),
                    turns=int(row[2]),
                )
            )
        return UsageOut(series=[UsageSeries(key=key, points=points) for key, points in series.items()])

    async def _platform_usage(self, w: Window) -> UsageOut:
        """Every org's usage, one series per org (by slug), for a platform operator."""
        rows = await self._rows(
            "select org_slug, bucket, turns, input_tokens, output_tokens, cost_usd, ttft_hist"
            " from lyceum_platform_ai_usage(:bucket, :start, :end)",
            self._range(w),
        )
        sums: dict[tuple[str, datetime], list[Any]] = {}
        for slug, bucket, turns, input_tokens, output_tokens, cost, histogram in rows:
            total = sums.setdefault((slug, bucket), [0, 0, 0, Decimal(0), [0] * TTFT_BUCKETS])
            total[0] += int(turns)
            total[1] += int(input_tokens)
            total[2] += int(output_tokens)
            total[3] += Decimal(cost)
            for i, count in enumerate(histogram[:TTFT_BUCKETS]):
                total[4][i] += int(count)
        series: dict[str, list[UsagePoint]] = defaultdict(list)
        for (slug, bucket), (turns, input_tokens, output_tokens, cost, histogram) in sorted(sums.items()):
            series[slug].append(
                UsagePoint(
                    t=bucket,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    cost_usd=float(round(cost, 6)),
                    ttft_p50_ms=_ms(percentile(histogram, 0.5)),
                    ttft_p95_ms=_ms(percentile(histogram, 0.95)),
                    turns=turns,
                )
            )
        return UsageOut(
            series=[UsageSeries(key=key, points=points) for key, points in series.items()], scope="platform"
        )

    async def guardrails(self, w: Window) -> GuardrailsOut:
        totals = await self._rows(
            "select u.bucket as t, sum(u.turns), sum(u.guardrail_turns), sum(u.blocked)"
            " from ai_usage_rollup u"
            " where u.grain = :bucket and u.bucket >= :start and u.bucket < :end group by 1 order by 1",
            self._range(w),
        )
        policies = await self._rows(
            "select p.key, u.bucket as t, sum(p.value::bigint)"
            " from ai_usage_rollup u cross join lateral jsonb_each_text(u.guardrail_triggers) as p"
            " where u.grain = :bucket and u.bucket >= :start and u.bucket < :end group by 1, 2 order by 1, 2",
            self._range(w),
        )
        series: dict[str, list[PolicyPoint]] = defaultdict(list)
        for policy, t, triggers in policies:
            series[policy].append(PolicyPoint(t=t, triggers=int(triggers)))
        return GuardrailsOut(
            points=[
                GuardrailPoint(t=r[0], turns=int(r[1]), guardrail_turns=int(r[2]), blocked=int(r[3])) for r in totals
            ],
            series=[PolicySeries(key=key, points=points) for key, points in series.items()],
        )

    async def providers(self, w: Window) -> ProvidersOut:
        params = {**self._range(w), "offline": OFFLINE_PROVIDER}
        points = await self._rows(
            "select u.bucket as t, sum(u.turns),"
            " coalesce(sum(u.turns) filter (where u.provider = :offline), 0)"
            " from ai_usage_rollup u"
            " where u.grain = :bucket and u.bucket >= :start and u.bucket < :end and u.purpose = 'tutor'"
            " group by 1 order by 1",
            params,
        )
        totals = await self._rows(
            "select u.provider, sum(u.turns) from ai_usage_rollup u"
            " where u.grain = :bucket and u.bucket >= :start and u.bucket < :end and u.purpose = 'tutor'"
            " group by 1 order by 2 desc, 1",
            self._range(w),
        )
        return ProvidersOut(
            points=[
                ProviderPoint(
                    t=r[0], turns=int(r[1]), offline_turns=int(r[2]), offline_share=_rate(int(r[2]), int(r[1]))
                )
                for r in points
            ],
            providers=[ProviderTotal(key=r[0] or "unknown", turns=int(r[1])) for r in totals],
        )

    async def grading(self, w: Window) -> GradingOut:
        graded = await self._rows(
            "select date_trunc(:bucket, g.created_at, 'UTC') as t, count(distinct g.submission_id) from grades g"
            " where g.graded_by = 'ai' and g.created_at >= :start and g.created_at < :end group by 1",
            self._range(w),
        )
        escalated = await self._rows(
            "select date_trunc(:bucket, r.created_at, 'UTC') as t, count(*) from review_items r"
            " where r.reason <> 'sample' and r.created_at >= :start and r.created_at < :end group by 1",
            self._range(w),
        )
        decided = await self._rows(
            "select date_trunc(:bucket, r.decided_at, 'UTC') as t, count(*),"
            " count(*) filter (where r.decision = 'accept') from review_items r"
            " where r.status = 'decided' and r.decided_at >= :start and r.decided_at < :end group by 1",
            self._range(w),
        )
        by_t: dict[datetime, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for t, n in graded:
            by_t[t][0] = int(n)
        for t, n in escalated:
            by_t[t][1] = int(n)
        for t, n, accepted in decided:
            by_t[t][2], by_t[t][3] = int(n), int(accepted)
        return GradingOut(
            points=[
                GradingPoint(
                    t=t,
                    ai_graded=v[0],
                    escalated=v[1],
                    escalation_rate=_rate(v[1], v[0]),
                    reviewed=v[2],
                    agreed=v[3],
                    agreement_rate=_rate(v[3], v[2]),
                )
                for t, v in sorted(by_t.items())
            ]
        )

    async def ratings(self, w: Window) -> RatingsOut:
        rows = await self._rows(
            "select u.model, u.prompt_version, sum(u.turns), sum(u.rating_count), sum(u.rating_sum)"
            " from ai_usage_rollup u"
            " where u.grain = :bucket and u.bucket >= :start and u.bucket < :end and u.purpose = 'tutor'"
            " group by 1, 2 order by 1, 2",
            self._range(w),
        )
        return RatingsOut(
            rows=[
                RatingRow(
                    model=r[0],
                    prompt_version=r[1],
                    turns=int(r[2]),
                    ratings=int(r[3]),
                    rating_avg=round(int(r[4]) / int(r[3]), 2) if int(r[3]) else None,
                )
                for r in rows
            ]
        )
