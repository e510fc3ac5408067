"""grading: human review queue, dead letters, submission failure detail

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 05:57:23.511027
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_ORG_SCOPED_TABLES = ("dead_letters", "review_items")


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("job_key", sa.String(length=200), nullable=False),
        sa.Column("function", sa.String(length=100), nullable=False),
        sa.Column("submission_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("org_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_dead_letters_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_dead_letters_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(op.f("ix_dead_letters_job_key"), "dead_letters", ["job_key"], unique=False)
    op.create_index(op.f("ix_dead_letters_org_id"), "dead_letters", ["org_id"], unique=False)
    op.create_index(op.f("ix_dead_letters_submission_id"), "dead_letters", ["submission_id"], unique=False)
    op.create_table(
        "review_items",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("submission_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("assessment_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("course_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.String(length=10), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("org_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision is null or decision in ('accept', 'override')", name=op.f("ck_review_items_decision_known")
        ),
        sa.CheckConstraint(
            "reason in ('low_confidence', 'sample', 'disagreement', 'grader_error')",
            name=op.f("ck_review_items_reason_known"),
        ),
        sa.CheckConstraint("status in ('open', 'decided')", name=op.f("ck_review_items_status_known")),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_review_items_assessment_id_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by"], ["users.id"], name=op.f("fk_review_items_claimed_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_review_items_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_review_items_decided_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_review_items_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_review_items_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_review_items_submission_id")),
    )
    op.create_index(op.f("ix_review_items_assessment_id"), "review_items", ["assessment_id"], unique=False)
    op.create_index(op.f("ix_review_items_course_id"), "review_items", ["course_id"], unique=False)
    op.create_index(op.f("ix_review_items_org_id"), "review_items", ["org_id"], unique=False)
    op.create_index("ix_review_items_queue_order", "review_items", ["org_id", "status", "priority", "sla_due_at"])
    op.add_column("submissions", sa.Column("detail", sa.Text(), nullable=False, server_default=""))
    # The worker's sweep must find submissions stuck in "queued" in every org, but it connects as the
    # RLS-bound application role: this definer function reveals only ids and orgs of stalled submissions.
    op.execute(
        "create function lyceum_stalled_submissions(older_than_seconds integer) "
        "returns table (submission_id uuid, org_id uuid) language sql stable security definer "
        "set search_path = public, pg_temp as "
        "$$ select id, org_id from submissions where status = 'queued' "
        "and created_at < now() - make_interval(secs => older_than_seconds) order by created_at limit 500 $$"
    )
    # New org-scoped tables get the same tenant isolation as every other (see 0001).
    for table in NEW_ORG_SCOPED_TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )


def downgrade() -> None:
    op.execute("drop function if exists lyceum_stalled_submissions(integer)")
    op.drop_column("submissions", "detail")
    op.drop_index("ix_review_items_queue_order", table_name="review_items")
    op.drop_index(op.f("ix_review_items_org_id"), table_name="review_items")
    op.drop_index(op.f("ix_review_items_course_id"), table_name="review_items")
    op.drop_index(op.f("ix_review_items_assessment_id"), table_name="review_items")
    op.drop_table("review_items")
    op.drop_index(op.f("ix_dead_letters_submission_id"), table_name="dead_letters")
    op.drop_index(op.f("ix_dead_letters_org_id"), table_name="dead_letters")
    op.drop_index(op.f("ix_dead_letters_job_key"), table_name="dead_letters")
    op.drop_table("dead_letters")
