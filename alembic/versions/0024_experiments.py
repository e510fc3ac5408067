"""experiments (issue 17 item 2): prompt variants and hint policies rolled out to a deterministic share of an
org's learners (optionally one course), started and stopped by an org admin; every tutor turn of a covered
learner records the experiment and the arm it was in

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("prompt", sa.String(length=100), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=True),
        sa.Column("rollout_percent", sa.Integer(), nullable=False),
        sa.Column("variants", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status in ('draft', 'running', 'stopped')", name=op.f("ck_experiments_status_known")),
        sa.CheckConstraint("rollout_percent between 0 and 100", name=op.f("ck_experiments_rollout_bounded")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_experiments_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_experiments_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_experiments_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_experiments_org_id")),
    )
    op.create_index(op.f("ix_experiments_org_id"), "experiments", ["org_id"], unique=False)
    op.create_index(op.f("ix_experiments_course_id"), "experiments", ["course_id"], unique=False)
    # At most one running experiment per target: (org, prompt, course), where no course (org-wide) is one
    # target of its own (coalesce: NULLs would otherwise never collide).
    op.execute(
        "create unique index uq_experiments_running_target on experiments "
        "(org_id, prompt, coalesce(course_id, '00000000-0000-0000-0000-000000000000'::uuid)) "
        "where status = 'running'"
    )
    op.execute("alter table experiments enable row level security")
    op.execute(
        "create policy tenant_isolation on experiments "
        "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
    )
    op.add_column("ai_interactions", sa.Column("experiment_id", sa.Uuid(), nullable=True))
    op.add_column("ai_interactions", sa.Column("experiment_variant", sa.String(length=60), nullable=True))
    op.create_foreign_key(
        op.f("fk_ai_interactions_experiment_id_experiments"),
        "ai_interactions",
        "experiments",
        ["experiment_id"],
        ["id"],
        ondelete="SET NULL",
    )
    # Partial: only the turns of an experiment are indexed (most turns have none).
    op.create_index(
        op.f("ix_ai_interactions_experiment_id"),
        "ai_interactions",
        ["experiment_id"],
        unique=False,
        postgresql_where=sa.text("experiment_id is not null"),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ai_interactions_experiment_id"), table_name="ai_interactions")
    op.drop_constraint(op.f("fk_ai_interactions_experiment_id_experiments"), "ai_interactions", type_="foreignkey")
    op.drop_column("ai_interactions", "experiment_variant")
    op.drop_column("ai_interactions", "experiment_id")
    op.drop_table("experiments")
