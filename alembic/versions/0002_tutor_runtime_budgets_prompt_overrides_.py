"""tutor runtime: budgets, prompt overrides, interaction fields

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 23:06:19.654831
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


NEW_ORG_SCOPED_TABLES = ("org_budgets", "prompt_templates")


def upgrade() -> None:
    op.create_table(
        "org_budgets",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("org_monthly_tokens", sa.Integer(), nullable=True),
        sa.Column("course_monthly_tokens", sa.Integer(), nullable=True),
        sa.Column("user_daily_tokens", sa.Integer(), nullable=True),
        sa.Column("session_tokens", sa.Integer(), nullable=True),
        sa.Column("org_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_org_budgets_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_budgets")),
        sa.UniqueConstraint("org_id", name=op.f("uq_org_budgets_org_id")),
    )
    op.create_index(op.f("ix_org_budgets_org_id"), "org_budgets", ["org_id"], unique=False)
    op.create_table(
        "prompt_templates",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=60), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("org_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_prompt_templates_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_templates")),
        sa.UniqueConstraint("org_id", "name", "version", name=op.f("uq_prompt_templates_org_id")),
    )
    op.create_index(op.f("ix_prompt_templates_org_id"), "prompt_templates", ["org_id"], unique=False)
    op.add_column("ai_interactions", sa.Column("course_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.add_column("ai_interactions", sa.Column("item_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.add_column("ai_interactions", sa.Column("client_message_id", sa.String(length=100), nullable=True))
    op.add_column("ai_interactions", sa.Column("provider", sa.String(length=30), nullable=False, server_default=""))
    op.add_column("ai_interactions", sa.Column("error_code", sa.String(length=40), nullable=False, server_default=""))
    op.create_index(op.f("ix_ai_interactions_course_id"), "ai_interactions", ["course_id"], unique=False)
    op.create_unique_constraint(
        op.f("uq_ai_interactions_session_id"), "ai_interactions", ["session_id", "client_message_id"]
    )
    op.create_foreign_key(
        op.f("fk_ai_interactions_item_id_items"), "ai_interactions", "items", ["item_id"], ["id"], ondelete="SET NULL"
    )
    op.create_foreign_key(
        op.f("fk_ai_interactions_course_id_courses"),
        "ai_interactions",
        "courses",
        ["course_id"],
        ["id"],
        ondelete="SET NULL",
    )

    # Admins may edit a user's (global) profile only when that person belongs to no other org; RLS hides
    # other orgs' memberships, so this definer function reveals just the count.
    op.execute(
        "create function lyceum_user_org_count(target uuid) returns integer language sql stable security definer "
        "set search_path = public, pg_temp as "
        "$$ select count(distinct org_id)::integer from memberships where user_id = target $$"
    )
    # New org-scoped tables get the same tenant isolation as every other (see 0001).
    for table in NEW_ORG_SCOPED_TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )


def downgrade() -> None:
    op.execute("drop function if exists lyceum_user_org_count(uuid)")
    op.drop_constraint(op.f("fk_ai_interactions_course_id_courses"), "ai_interactions", type_="foreignkey")
    op.drop_constraint(op.f("fk_ai_interactions_item_id_items"), "ai_interactions", type_="foreignkey")
    op.drop_constraint(op.f("uq_ai_interactions_session_id"), "ai_interactions", type_="unique")
    op.drop_index(op.f("ix_ai_interactions_course_id"), table_name="ai_interactions")
    op.drop_column("ai_interactions", "error_code")
    op.drop_column("ai_interactions", "provider")
    op.drop_column("ai_interactions", "client_message_id")
    op.drop_column("ai_interactions", "item_id")
    op.drop_column("ai_interactions", "course_id")
    op.drop_index(op.f("ix_prompt_templates_org_id"), table_name="prompt_templates")
    op.drop_table("prompt_templates")
    op.drop_index(op.f("ix_org_budgets_org_id"), table_name="org_budgets")
    op.drop_table("org_budgets")
