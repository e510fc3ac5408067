"""mastery projection: BKT parameters on competencies, competency gates on items, mastery_estimates and
projection_checkpoints (org-scoped with RLS)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The documented defaults (docs/adaptive.md "Mastery model"); the seed writes each competency's values.
BKT_DEFAULTS = {"bkt_prior": "0.2", "bkt_learn": "0.15", "bkt_slip": "0.1", "bkt_guess": "0.2"}


def _audit_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def _rls(table: str) -> None:
    # Org-scoped like every other table (see 0001).
    op.execute(f"alter table {table} enable row level security")
    op.execute(
        f"create policy tenant_isolation on {table} "
        "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
    )


def upgrade() -> None:
    for column, default in BKT_DEFAULTS.items():
        op.add_column("competencies", sa.Column(column, sa.Float(), nullable=False, server_default=default))

    op.create_table(
        "item_requirements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("competency_id", sa.Uuid(), nullable=False),
        sa.Column("mastery", sa.Float(), nullable=False),
        *_audit_columns(),
        _org_fk("item_requirements"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_requirements_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["competency_id"],
            ["competencies.id"],
            name=op.f("fk_item_requirements_competency_id_competencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_requirements")),
        sa.UniqueConstraint("item_id", "competency_id", name=op.f("uq_item_requirements_item_id")),
        sa.CheckConstraint("mastery >= 0 and mastery <= 1", name=op.f("ck_item_requirements_mastery_fraction")),
    )
    op.create_index(op.f("ix_item_requirements_org_id"), "item_requirements", ["org_id"], unique=False)
    op.create_index(op.f("ix_item_requirements_item_id"), "item_requirements", ["item_id"], unique=False)
    op.create_index(op.f("ix_item_requirements_competency_id"), "item_requirements", ["competency_id"], unique=False)
    _rls("item_requirements")

    op.create_table(
        "mastery_estimates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("competency_id", sa.Uuid(), nullable=False),
        sa.Column("mastery", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_evidence_at", sa.DateTime(timezone=True), nullable=False),
        *_audit_columns(),
        _org_fk("mastery_estimates"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mastery_estimates_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_mastery_estimates_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["competency_id"],
            ["competencies.id"],
            name=op.f("fk_mastery_estimates_competency_id_competencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mastery_estimates")),
        sa.UniqueConstraint("user_id", "competency_id", name=op.f("uq_mastery_estimates_user_id")),
    )
    op.create_index(op.f("ix_mastery_estimates_org_id"), "mastery_estimates", ["org_id"], unique=False)
    op.create_index(op.f("ix_mastery_estimates_user_id"), "mastery_estimates", ["user_id"], unique=False)
    op.create_index(op.f("ix_mastery_estimates_course_id"), "mastery_estimates", ["course_id"], unique=False)
    op.create_index(op.f("ix_mastery_estimates_competency_id"), "mastery_estimates", ["competency_id"], unique=False)
    _rls("mastery_estimates")

    op.create_table(
        "projection_checkpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("projection", sa.String(length=40), nullable=False),
        sa.Column("stream_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_audit_columns(),
        _org_fk("projection_checkpoints"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projection_checkpoints")),
        sa.UniqueConstraint("projection", "stream_id", name=op.f("uq_projection_checkpoints_projection")),
    )
    op.create_index(op.f("ix_projection_checkpoints_org_id"), "projection_checkpoints", ["org_id"], unique=False)
    _rls("projection_checkpoints")


def downgrade() -> None:
    op.drop_table("projection_checkpoints")
    op.drop_table("mastery_estimates")
    op.drop_table("item_requirements")
    for column in BKT_DEFAULTS:
        op.drop_column("competencies", column)
