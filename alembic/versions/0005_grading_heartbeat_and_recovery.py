"""grading: a heartbeat on each submission being graded, so the sweep recovers abandoned runs

A submission left ``grading`` by a worker that stopped (``lyceum up`` stopped or killed, a worker
crashed, Redis lost its queue) used to stay ``grading`` forever: the stalled-submission sweep only
looked at ``queued``. The grading job now stamps ``heartbeat_at`` while it runs; the sweep re-enqueues
``grading`` submissions whose heartbeat is older than its threshold, counting each recovery in
``recoveries`` so a submission that keeps losing its worker ends in the dead-letter list instead of
looping.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 02:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_SWEEP = (
    "create function lyceum_stalled_submissions(older_than_seconds integer) "
    "returns table (submission_id uuid, org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as "
    "$$ select id, org_id from submissions where status = 'queued' "
    "and created_at < now() - make_interval(secs => older_than_seconds) order by created_at limit 500 $$"
)

# Still a definer function (the worker's application role is bound by RLS and the sweep spans every
# org), still revealing only ids, orgs and statuses. Abandoned `grading` rows come first: they are the
# ones nothing else will ever pick up, while old `queued` ones usually just wait behind a backlog. Rows
# graded before this migration have no heartbeat; their last update (the move to `grading`) stands in.
_NEW_SWEEP = (
    "create function lyceum_stalled_submissions(older_than_seconds integer) "
    "returns table (submission_id uuid, org_id uuid, status text) language sql stable security definer "
    "set search_path = public, pg_temp as "
    "$$ select id, org_id, status::text from submissions "
    "where (status = 'queued' and created_at < now() - make_interval(secs => older_than_seconds)) "
    "or (status = 'grading' "
    "and coalesce(heartbeat_at, updated_at) < now() - make_interval(secs => older_than_seconds)) "
    "order by status = 'grading' desc, created_at limit 500 $$"
)


def upgrade() -> None:
    op.add_column("submissions", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("submissions", sa.Column("recoveries", sa.Integer(), nullable=False, server_default="0"))
    # The sweep runs every few seconds; only unfinished submissions matter to it, a tiny share of the table.
    op.create_index(
        "ix_submissions_unfinished",
        "submissions",
        ["status", "created_at"],
        postgresql_where=sa.text("status in ('queued', 'grading')"),
    )
    op.execute("drop function if exists lyceum_stalled_submissions(integer)")
    op.execute(_NEW_SWEEP)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_stalled_submissions(integer)")
    op.execute(_OLD_SWEEP)
    op.drop_index("ix_submissions_unfinished", table_name="submissions")
    op.drop_column("submissions", "recoveries")
    op.drop_column("submissions", "heartbeat_at")
