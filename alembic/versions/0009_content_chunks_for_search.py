"""content chunks for search: learner-visible passages with a full-text tsvector (GIN), org-scoped with RLS

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK_TSVECTOR = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, heading), 'B') || "
    "to_tsvector('english'::regconfig, content)"
)


def upgrade() -> None:
    op.create_table(
        "content_chunks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("chunk_id", sa.String(length=64), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("heading", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tsv", postgresql.TSVECTOR(), sa.Computed(CHUNK_TSVECTOR, persisted=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_content_chunks_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_content_chunks_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_content_chunks_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_chunks")),
        sa.UniqueConstraint("org_id", "chunk_id", name=op.f("uq_content_chunks_org_id")),
    )
    op.create_index(op.f("ix_content_chunks_org_id"), "content_chunks", ["org_id"], unique=False)
    op.create_index(op.f("ix_content_chunks_course_id"), "content_chunks", ["course_id"], unique=False)
    op.create_index(op.f("ix_content_chunks_item_id"), "content_chunks", ["item_id"], unique=False)
    op.create_index("ix_content_chunks_tsv", "content_chunks", ["tsv"], unique=False, postgresql_using="gin")
    # Org-scoped like every other table (see 0001).
    op.execute("alter table content_chunks enable row level security")
    op.execute(
        "create policy tenant_isolation on content_chunks "
        "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
    )


def downgrade() -> None:
    op.drop_table("content_chunks")
