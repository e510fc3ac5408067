"""data export expiry (issue 18 item 5): the definer function that tells the worker's ``expire_data_exports``
cron which orgs have ready exports past their expiry (ids only; the expiry itself runs inside each org's own
transaction, under row-level security)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EXPIRED_ORGS = (
    "create function lyceum_data_export_expired_orgs(at_time timestamptz) "
    "returns table (org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select distinct d.org_id from data_exports d where d.status = 'ready' and d.expires_at <= at_time $$"
)


def upgrade() -> None:
    op.execute(_EXPIRED_ORGS)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_data_export_expired_orgs(timestamptz)")
