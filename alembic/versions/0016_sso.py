"""sso (issue 16): per-org OIDC and SAML connections (one per protocol), the outside identities they vouched
for, and the org's "members sign in with SSO only" switch

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 00:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_TABLES = ("sso_connections", "sso_identities")


def upgrade() -> None:
    op.add_column("organizations", sa.Column("sso_required", sa.Boolean(), server_default="false", nullable=False))
    op.create_table(
        "sso_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("protocol", sa.String(length=10), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("issuer", sa.String(length=1000), nullable=False),
        sa.Column("client_id", sa.String(length=500), nullable=False),
        sa.Column("client_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("idp_metadata_url", sa.String(length=1000), nullable=False),
        sa.Column("idp_metadata_xml", sa.Text(), nullable=False),
        sa.Column("allowed_domains", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("role_claim", sa.String(length=200), nullable=False),
        sa.Column("role_mapping", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("default_role", sa.String(length=20), nullable=False),
        sa.Column("extra", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("protocol in ('oidc', 'saml')", name=op.f("ck_sso_connections_protocol_known")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_sso_connections_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_connections")),
    )
    op.create_index(op.f("ix_sso_connections_org_id"), "sso_connections", ["org_id"], unique=False)
    op.create_index("uq_sso_connections_org_protocol", "sso_connections", ["org_id", "protocol"], unique=True)
    op.create_table(
        "sso_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["sso_connections.id"],
            name=op.f("fk_sso_identities_connection_id_sso_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_sso_identities_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sso_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_identities")),
    )
    op.create_index(op.f("ix_sso_identities_connection_id"), "sso_identities", ["connection_id"], unique=False)
    op.create_index(op.f("ix_sso_identities_org_id"), "sso_identities", ["org_id"], unique=False)
    op.create_index(op.f("ix_sso_identities_user_id"), "sso_identities", ["user_id"], unique=False)
    op.create_index("uq_sso_identities_connection_subject", "sso_identities", ["connection_id", "subject"], unique=True)
    for table in ORG_TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )


def downgrade() -> None:
    op.drop_index("uq_sso_identities_connection_subject", table_name="sso_identities")
    op.drop_index(op.f("ix_sso_identities_user_id"), table_name="sso_identities")
    op.drop_index(op.f("ix_sso_identities_org_id"), table_name="sso_identities")
    op.drop_index(op.f("ix_sso_identities_connection_id"), table_name="sso_identities")
    op.drop_table("sso_identities")
    op.drop_index("uq_sso_connections_org_protocol", table_name="sso_connections")
    op.drop_index(op.f("ix_sso_connections_org_id"), table_name="sso_connections")
    op.drop_table("sso_connections")
    op.drop_column("organizations", "sso_required")
