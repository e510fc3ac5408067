"""course authoring (issue 17): drafts kept apart from the live rows, immutable published versions, the
version each enrolment is on, and a definer function answering only whether a course slug is used by
another org

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_TABLES = ("course_drafts", "course_versions")

# Course slugs are unique per org, but an authored course's slug must not collide with another org's
# either (one public name per course). Row-level security hides other orgs' rows, so this definer function
# answers the one question, yes or no, and reveals nothing else.
_SLUG_TAKEN = (
    "create function lyceum_course_slug_taken_elsewhere(course_slug text, own_org uuid) "
    "returns boolean language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select exists (select 1 from courses c where c.slug = course_slug and c.org_id <> own_org) "
    "or exists (select 1 from course_drafts d where d.slug = course_slug and d.org_id <> own_org) $$"
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
        "course_drafts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_course_drafts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_drafts_course_id_courses"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_course_drafts_updated_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_drafts")),
        sa.UniqueConstraint("org_id", "slug", name=op.f("uq_course_drafts_org_id")),
        sa.UniqueConstraint("course_id", name=op.f("uq_course_drafts_course_id")),
    )
    op.create_index(op.f("ix_course_drafts_org_id"), "course_drafts", ["org_id"], unique=False)
    op.create_index("ix_course_drafts_slug", "course_drafts", ["slug"], unique=False)
    op.create_table(
        "course_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("item_slugs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("published_by", sa.Uuid(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_course_versions_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_versions_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["published_by"], ["users.id"], name=op.f("fk_course_versions_published_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_versions")),
        sa.UniqueConstraint("course_id", "version", name=op.f("uq_course_versions_course_id")),
    )
    op.create_index(op.f("ix_course_versions_org_id"), "course_versions", ["org_id"], unique=False)
    op.create_index(op.f("ix_course_versions_course_id"), "course_versions", ["course_id"], unique=False)
    op.add_column("enrollments", sa.Column("course_version", sa.Integer(), nullable=True))
    for table in ORG_TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )
    # A published version is a record of what learners were shown: never changed, never removed (the
    # course's deletion still cascades, as an org's does).
    op.execute(
        "create trigger course_versions_immutable before update on course_versions "
        "for each row execute function lyceum_refuse_change()"
    )
    op.execute(_SLUG_TAKEN)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_course_slug_taken_elsewhere(text, uuid)")
    op.drop_column("enrollments", "course_version")
    op.drop_table("course_versions")
    op.drop_table("course_drafts")
