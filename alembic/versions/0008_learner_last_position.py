"""learner position: the item each enrollment was last on, so "Continue" resumes there

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The row is the learner's own and already under the enrollments RLS policy; a re-seeded course that
    # drops the item simply forgets the position.
    op.add_column(
        "enrollments",
        sa.Column("last_item_id", sa.Uuid(), sa.ForeignKey("items.id", ondelete="SET NULL"), nullable=True),
    )
    op.add_column("enrollments", sa.Column("last_item_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("enrollments", "last_item_at")
    op.drop_column("enrollments", "last_item_id")
