"""spaced review: review_cards (one FSRS card per learner x competency), review_logs (every answer,
written once), review_due_counts (the daily cron's due counts); org-scoped with RLS

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("review_cards", "review_logs", "review_due_counts")

# The daily due-count job spans every org, but the worker's application role is bound by RLS: like
# lyceum_stalled_submissions (0005) a definer function that reveals ids only (which orgs have cards).
_REVIEW_ORGS = (
    "create function lyceum_review_orgs() returns table (org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ select distinct org_id from review_cards $$"
)


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "review_cards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("competency_id", sa.Uuid(), nullable=False),
        sa.Column("source_item_id", sa.Uuid(), nullable=True),
        sa.Column("fsrs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_review_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reps", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lapses", sa.Integer(), server_default="0", nullable=False),
        *_audit_columns(),
        _fk("review_cards", "org_id", "organizations"),
        _fk("review_cards", "user_id", "users"),
        _fk("review_cards", "course_id", "courses"),
        _fk("review_cards", "competency_id", "competencies"),
        sa.ForeignKeyConstraint(
            ["source_item_id"],
            ["items.id"],
            name=op.f("fk_review_cards_source_item_id_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cards")),
        sa.UniqueConstraint("user_id", "competency_id", name=op.f("uq_review_cards_user_id")),
    )
    op.create_index(op.f("ix_review_cards_org_id"), "review_cards", ["org_id"], unique=False)
    op.create_index(op.f("ix_review_cards_course_id"), "review_cards", ["course_id"], unique=False)
    op.create_index(op.f("ix_review_cards_competency_id"), "review_cards", ["competency_id"], unique=False)
    # What the due listing and the daily counts read: a learner's cards by due time.
    op.create_index("ix_review_cards_user_due", "review_cards", ["user_id", "due_at"], unique=False)

    op.create_table(
        "review_logs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("question_ref", sa.String(length=200), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        *_audit_columns(),
        _fk("review_logs", "org_id", "organizations"),
        _fk("review_logs", "card_id", "review_cards"),
        _fk("review_logs", "user_id", "users"),
        sa.CheckConstraint("rating between 1 and 4", name=op.f("ck_review_logs_rating_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_logs")),
        sa.UniqueConstraint("card_id", "idempotency_key", name=op.f("uq_review_logs_card_id")),
    )
    op.create_index(op.f("ix_review_logs_org_id"), "review_logs", ["org_id"], unique=False)
    op.create_index(op.f("ix_review_logs_card_id"), "review_logs", ["card_id"], unique=False)
    op.create_index(op.f("ix_review_logs_user_id"), "review_logs", ["user_id"], unique=False)

    op.create_table(
        "review_due_counts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("due_now", sa.Integer(), nullable=False),
        sa.Column("due_today", sa.Integer(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        *_audit_columns(),
        _fk("review_due_counts", "org_id", "organizations"),
        _fk("review_due_counts", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_due_counts")),
        sa.UniqueConstraint("org_id", "user_id", "day", name=op.f("uq_review_due_counts_org_id")),
    )
    op.create_index(op.f("ix_review_due_counts_org_id"), "review_due_counts", ["org_id"], unique=False)
    op.create_index(op.f("ix_review_due_counts_user_id"), "review_due_counts", ["user_id"], unique=False)

    # Org-scoped like every other table (see 0001, 0009).
    for table in TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )
    op.execute(_REVIEW_ORGS)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_review_orgs()")
    op.drop_table("review_due_counts")
    op.drop_table("review_logs")
    op.drop_table("review_cards")
