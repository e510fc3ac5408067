"""AI usage rollups (issue 17): hourly sums over ``ai_interactions`` so the observability dashboard reads
O(buckets), not O(interactions).

- ``ai_usage_rollup``: one row per (org, grain, bucket, course, model, prompt version, purpose, provider) with
  sums, counts, a fixed-bucket time-to-first-token histogram (bounds in ``app/lib/histogram.py``; merged
  across rows by adding the arrays, so p50/p95 over any range come from the rollup alone), guardrail
  triggers by policy and learner-rating sums. A row is always recomputed whole from the raw rows of its
  hour (never incremented), so refreshing a bucket twice cannot count anything twice. Grain ``hour`` rows
  come from the raw log; grain ``day`` rows are the sums of a UTC day's hour rows, recomputed with them, so
  a month of daily points reads ~30 rows per series instead of ~720.
- ``ai_usage_refresh_state``: per org, the time the last refresh's snapshot was taken (its watermark). The
  next refresh recomputes every hour touched by interactions or ratings created since the watermark minus a
  margin (late-committing rows), under a per-org advisory lock (``app/domain/insights/rollup.py``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class AIUsageRollup(OrgScoped, Base):
    """One hour (or day) of one org's AI interactions for one (course, model, prompt version, purpose, provider)."""

    __tablename__ = "ai_usage_rollup"
    __table_args__ = (
        CheckConstraint("grain in ('hour', 'day')", name="grain_known"),
        Index(
            "uq_ai_usage_rollup_key",
            "org_id",
            "grain",
            "bucket",
            "course_id",
            "model",
            "prompt_version",
            "purpose",
            "provider",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    grain: Mapped[str] = mapped_column(String(5))  # hour | day
    bucket: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))  # the UTC hour (day) the rows were created in
    course_id: Mapped[UUID | None] = mapped_column(nullable=True)  # no FK: a deleted course keeps its history
    model: Mapped[str] = mapped_column(String(100))
    prompt_version: Mapped[str] = mapped_column(String(60))
    purpose: Mapped[str] = mapped_column(String(30))
    provider: Mapped[str] = mapped_column(String(30))
    turns: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)  # status error (or an error code)
    blocked: Mapped[int] = mapped_column(Integer)  # status blocked (a guardrail stopped the turn)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    ttft_count: Mapped[int] = mapped_column(Integer)  # turns with a first-token latency
    ttft_sum_ms: Mapped[int] = mapped_column(BigInteger)
    ttft_hist: Mapped[list[int]] = mapped_column(ARRAY(Integer))  # counts per app.lib.histogram.TTFT_BOUNDS_MS
    guardrail_turns: Mapped[int] = mapped_column(Integer)  # turns with at least one guardrail outcome
    guardrail_triggers: Mapped[dict[str, int]] = mapped_column(JsonB)  # {policy name: outcomes}
    rating_count: Mapped[int] = mapped_column(Integer)  # learner ratings (1-5) of these turns
    rating_sum: Mapped[int] = mapped_column(Integer)


class AIUsageRefreshState(OrgScoped, Base):
    """The org's rollup watermark: the snapshot time of its last refresh."""

    __tablename__ = "ai_usage_refresh_state"
    __table_args__ = (Index("uq_ai_usage_refresh_state_org", "org_id", unique=True),)

    refreshed_through: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
