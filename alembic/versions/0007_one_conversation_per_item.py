"""tutor: one open conversation per learner, course and item, and the mode of each message

Switching the tutor's mode used to start a new session, so the earlier turns vanished from the panel.
The mode is now a per-message setting (``ai_interactions.mode``) and a learner has at most one open
conversation per course and item (a partial unique index; "New conversation" closes it first). Existing
duplicates are closed, keeping the newest open one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_ITEM = "'00000000-0000-0000-0000-000000000000'::uuid"


def upgrade() -> None:
    op.add_column("ai_interactions", sa.Column("mode", sa.String(20), nullable=True))
    op.execute(
        "update ai_sessions set status = 'closed' where status = 'open' and id not in ("
        f" select distinct on (user_id, course_id, coalesce(item_id, {NO_ITEM})) id from ai_sessions"
        f" where status = 'open' order by user_id, course_id, coalesce(item_id, {NO_ITEM}), created_at desc)"
    )
    op.execute(
        "create unique index uq_ai_sessions_open_per_item on ai_sessions"
        f" (user_id, course_id, coalesce(item_id, {NO_ITEM})) where status = 'open'"
    )


def downgrade() -> None:
    op.execute("drop index if exists uq_ai_sessions_open_per_item")
    op.drop_column("ai_interactions", "mode")
