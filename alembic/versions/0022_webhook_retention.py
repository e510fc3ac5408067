"""webhook retention (issue 16 follow-up): an index for finding an org's old relayed events, and the definer
function that tells the worker's daily prune which orgs have some (ids only; the prune itself deletes inside
each org's own transaction, under row-level security)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 08:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PRUNABLE_ORGS = (
    "create function lyceum_webhook_prunable_orgs(cutoff timestamptz, max_rows integer) "
    "returns table (org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select distinct e.org_id from webhook_events e where e.relayed_at < cutoff limit max_rows $$"
)


def upgrade() -> None:
    op.create_index(
        "ix_webhook_events_org_relayed",
        "webhook_events",
        ["org_id", "relayed_at"],
        unique=False,
        postgresql_where="relayed_at is not null",
    )
    op.execute(_PRUNABLE_ORGS)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_webhook_prunable_orgs(timestamptz, integer)")
    op.drop_index("ix_webhook_events_org_relayed", table_name="webhook_events")
