"""alerts (issue 17 item 5): alert rules an org admin configures (cost burn rate, rating drop, guardrail
spike, grading disagreement) and the alerts they fire, kept with their acknowledgement; a definer function
listing the orgs with enabled rules (ids only) for the worker's evaluation cron

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_TABLES = ("alert_rules", "alerts")

# The evaluation cron spans every org: which orgs have an enabled rule (ids only; each org is then
# evaluated inside its own transaction, under row-level security).
_ORGS_WITH_RULES = (
    "create function lyceum_alert_rule_orgs() "
    "returns table (org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select distinct r.org_id from alert_rules r where r.enabled $$"
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
        "alert_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        *_stamps(),
        sa.CheckConstraint(
            "kind in ('cost_burn_rate', 'rating_drop', 'guardrail_spike', 'grading_disagreement')",
            name=op.f("ck_alert_rules_kind_known"),
        ),
        sa.CheckConstraint("window_minutes between 5 and 10080", name=op.f("ck_alert_rules_window_bounded")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_alert_rules_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_alert_rules_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index(op.f("ix_alert_rules_org_id"), "alert_rules", ["org_id"], unique=False)
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_alerts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alert_rules.id"], name=op.f("fk_alerts_rule_id_alert_rules"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_alerts_acknowledged_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_org_id"), "alerts", ["org_id"], unique=False)
    op.create_index("ix_alerts_fired_at", "alerts", ["org_id", "fired_at"], unique=False)
    # One firing alert per rule at a time: two evaluations racing cannot fire it twice.
    op.create_index(
        "uq_alerts_open_per_rule", "alerts", ["rule_id"], unique=True, postgresql_where=sa.text("resolved_at is null")
    )
    for table in ORG_TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )
    op.execute(_ORGS_WITH_RULES)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_alert_rule_orgs()")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
