"""invitations (issue 17, org admin): an admin invites an email address with a role through a one-time link
(only the token's SHA-256 is stored); a definer function finds an invitation by that hash for the public
accept page, which has no org yet (ids only)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The public accept page knows the token only: which invitation (and so which org) it belongs to. The
# page then works inside that org's own transaction, under row-level security.
_FIND_INVITATION = (
    "create function lyceum_invitation_by_token(hash text) "
    "returns table (invitation_id uuid, org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select i.id, i.org_id from invitations i where i.token_hash = hash $$"
)


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_user_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role in ('admin', 'instructor', 'learner')", name=op.f("ck_invitations_role_known")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_invitations_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["users.id"], name=op.f("fk_invitations_invited_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["accepted_user_id"],
            ["users.id"],
            name=op.f("fk_invitations_accepted_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_org_id"), "invitations", ["org_id"], unique=False)
    op.create_index(
        "uq_invitations_open_email",
        "invitations",
        ["org_id", "email"],
        unique=True,
        postgresql_where=sa.text("accepted_at is null and revoked_at is null"),
    )
    op.execute("alter table invitations enable row level security")
    op.execute(
        "create policy tenant_isolation on invitations "
        "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
    )
    op.execute(_FIND_INVITATION)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_invitation_by_token(text)")
    op.drop_table("invitations")
