"""ai usage rollups (issue 17): hourly and daily rollup of ai_interactions per (org, course, model, prompt version,
purpose, provider) with a first-token latency histogram, guardrail triggers and ratings; the per-org refresh
watermark; indexes the incremental refresh reads by; a definer function naming the orgs with rows to roll up
(ids only)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_TABLES = ("ai_usage_rollup", "ai_usage_refresh_state")

# The refresh cron spans every org: which orgs have interactions or learner ratings created since their
# watermark minus the margin (ids only; the refresh then works inside each org's transaction, under RLS).
_ORGS_TO_REFRESH = (
    "create function lyceum_ai_usage_orgs_to_refresh(margin interval) "
    "returns table (org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select o.id from organizations o left join ai_usage_refresh_state s on s.org_id = o.id "
    "where exists (select 1 from ai_interactions i where i.org_id = o.id "
    "and i.created_at >= coalesce(s.refreshed_through - margin, '-infinity')) "
    "or exists (select 1 from ai_feedback f where f.org_id = o.id and f.source = 'learner_rating' "
    "and f.created_at >= coalesce(s.refreshed_through - margin, '-infinity')) $$"
)


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "ai_usage_rollup",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("prompt_version", sa.String(length=60), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("blocked", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(18, 6), nullable=False),
        sa.Column("ttft_count", sa.Integer(), nullable=False),
        sa.Column("ttft_sum_ms", sa.BigInteger(), nullable=False),
        sa.Column("ttft_hist", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("guardrail_turns", sa.Integer(), nullable=False),
        sa.Column("guardrail_triggers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        *_stamps(),
        sa.CheckConstraint("grain in ('hour', 'day')", name=op.f("ck_ai_usage_rollup_grain_known")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_ai_usage_rollup_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_usage_rollup")),
    )
    op.create_index(op.f("ix_ai_usage_rollup_org_id"), "ai_usage_rollup", ["org_id"], unique=False)
    op.create_index(
        "uq_ai_usage_rollup_key",
        "ai_usage_rollup",
        ["org_id", "grain", "bucket", "course_id", "model", "prompt_version", "purpose", "provider"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "ai_usage_refresh_state",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("refreshed_through", sa.DateTime(timezone=True), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_ai_usage_refresh_state_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_usage_refresh_state")),
    )
    op.create_index(op.f("ix_ai_usage_refresh_state_org_id"), "ai_usage_refresh_state", ["org_id"], unique=False)
    op.create_index("uq_ai_usage_refresh_state_org", "ai_usage_refresh_state", ["org_id"], unique=True)
    # The refresh reads raw rows by (org, creation time): new rows since the watermark, then whole hours.
    op.create_index("ix_ai_interactions_org_created", "ai_interactions", ["org_id", "created_at"], unique=False)
    op.create_index("ix_ai_feedback_org_created", "ai_feedback", ["org_id", "created_at"], unique=False)
    for table in ORG_TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )
    op.execute(_ORGS_TO_REFRESH)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_ai_usage_orgs_to_refresh(interval)")
    op.drop_index("ix_ai_feedback_org_created", table_name="ai_feedback")
    op.drop_index("ix_ai_interactions_org_created", table_name="ai_interactions")
    op.drop_table("ai_usage_refresh_state")
    op.drop_table("ai_usage_rollup")
