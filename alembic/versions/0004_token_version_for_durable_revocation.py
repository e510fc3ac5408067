"""users.token_version: revocation that survives losing Redis

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 02:00:00.000000

Every token carries the version of its user at issue (claim ``ver``). Changing or resetting a password,
and deactivating an account, raise the version, which ends every token issued before, in every org,
without relying on the Redis cache (docs/security.md, "Revocation").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # users is a global table with its own policies (0001): a new column needs no new policy; the
    # application role updates it through users_update (only the caller or members of the current org).
    op.add_column("users", sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"))
    # The revocation state of a user (app.domain.auth.revocation) reads the logins revoked in the last
    # access-token lifetime; this index serves it without scanning every token the user ever had.
    op.create_index(
        "ix_refresh_tokens_user_id_revoked_at",
        "refresh_tokens",
        ["user_id", "revoked_at"],
        unique=False,
        postgresql_where=sa.text("revoked_at is not null"),
    )


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_user_id_revoked_at", table_name="refresh_tokens")
    op.drop_column("users", "token_version")
