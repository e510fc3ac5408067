"""review: keep the learner's dispute reason with the review item, so reviewers see it

A learner who contests a grade writes why; until now that text reached only the audit log, and the
reviewer saw "Learner disagrees" without the reason. Existing disputes keep an empty reason (their
words remain in the audit log under ``submission.disputed``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("review_items", sa.Column("dispute_reason", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("review_items", "dispute_reason")
