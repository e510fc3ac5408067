"""webhooks (issue 16): endpoints (sealed secret, breaker counters, disabled reason), the transactional
outbox of events and one delivery per (event, endpoint); definer functions for the worker's cross-org
relay and retry sweeps (ids only)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_TABLES = ("webhook_endpoints", "webhook_events", "webhook_deliveries")

# The relay spans every org: which orgs have outbox rows not yet turned into deliveries (ids only; the
# relay then works inside each org's own transaction, under row-level security).
_UNRELAYED_ORGS = (
    "create function lyceum_webhook_unrelayed_orgs(max_rows integer) "
    "returns table (org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select e.org_id from webhook_events e where e.relayed_at is null "
    "group by e.org_id order by min(e.created_at) limit max_rows $$"
)
# Deliveries whose next attempt is due (a retry's time came, or a job was lost), ids only.
_DUE_DELIVERIES = (
    "create function lyceum_webhook_due_deliveries(max_rows integer) "
    "returns table (delivery_id uuid, org_id uuid, attempts integer) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select d.id, d.org_id, d.attempts from webhook_deliveries d where d.status = 'pending' "
    "and d.next_attempt_at <= now() order by d.next_attempt_at limit max_rows $$"
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
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("breaker_open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_webhook_endpoints_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(op.f("ix_webhook_endpoints_org_id"), "webhook_endpoints", ["org_id"], unique=False)
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("relayed_at", sa.DateTime(timezone=True), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_webhook_events_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
    )
    op.create_index(op.f("ix_webhook_events_org_id"), "webhook_events", ["org_id"], unique=False)
    op.create_index(
        "ix_webhook_events_unrelayed",
        "webhook_events",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("relayed_at is null"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "status in ('pending', 'delivered', 'failed')", name=op.f("ck_webhook_deliveries_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["webhook_events.id"],
            name=op.f("fk_webhook_deliveries_event_id_webhook_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_deliveries_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(op.f("ix_webhook_deliveries_org_id"), "webhook_deliveries", ["org_id"], unique=False)
    op.create_index(op.f("ix_webhook_deliveries_endpoint_id"), "webhook_deliveries", ["endpoint_id"], unique=False)
    op.create_index(
        "uq_webhook_deliveries_event_endpoint", "webhook_deliveries", ["event_id", "endpoint_id"], unique=True
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    for table in ORG_TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )
    for function in (_UNRELAYED_ORGS, _DUE_DELIVERIES):
        op.execute(function)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_webhook_due_deliveries(integer)")
    op.execute("drop function if exists lyceum_webhook_unrelayed_orgs(integer)")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
