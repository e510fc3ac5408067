"""tutor: the course chunks each reply was grounded on, and how long retrieving them took

Each tutor turn retrieves passages of the learner's course and gives them to the model (issue 12 §3);
``ai_interactions.sources`` records which chunks were used ([{"chunk_id", "item_id", "score"}], best
first; [] for earlier rows and turns without sources) and ``latency_retrieval_ms`` the retrieval's time.
The table keeps its row-level security policy: new columns need nothing more.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ai_interactions",
        sa.Column("sources", postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default="[]"),
    )
    op.add_column("ai_interactions", sa.Column("latency_retrieval_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("ai_interactions", "latency_retrieval_ms")
    op.drop_column("ai_interactions", "sources")
