"""credentials (issue 13): issuer_profiles, issuer_keys (sealed Ed25519 keys, one active per org),
status_lists (Bitstring Status List per org); credentials gain their enrolment (unique: issued once), both
proofs' forms, the signing kid and their status-list entry; users gain a registered credential DID

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("issuer_profiles", "issuer_keys", "status_lists")

# Public pages (a share link, the baked badge) know a credential id, not its org: a definer function that
# reveals the org of one credential id, nothing else, and the caller then reads under that tenant.
_CREDENTIAL_ORG = (
    "create function lyceum_credential_org(credential uuid) returns uuid language sql stable security definer "
    "set search_path = public, pg_temp as $$ select org_id from credentials where id = credential $$"
)
# The issuance sweep spans every org (like lyceum_stalled_submissions, 0005): completed enrolments that have
# no credential and no dead letter for issue_credential, ids only.
_PENDING = (
    "create function lyceum_completed_without_credential(max_rows integer) "
    "returns table (enrollment_id uuid, org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select e.id, e.org_id from enrollments e "
    "where e.completed_at is not null "
    "and not exists (select 1 from credentials c where c.enrollment_id = e.id) "
    "and not exists (select 1 from dead_letters d where d.function = 'issue_credential' "
    "and d.payload ->> 'enrollment_id' = e.id::text) "
    "order by e.completed_at limit max_rows $$"
)


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "issuer_profiles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("image_url", sa.String(length=1000), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        *_audit_columns(),
        _org_fk("issuer_profiles"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_profiles")),
    )
    op.create_index(op.f("ix_issuer_profiles_org_id"), "issuer_profiles", ["org_id"], unique=False)
    op.create_index("uq_issuer_profiles_org", "issuer_profiles", ["org_id"], unique=True)

    op.create_table(
        "issuer_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kid", sa.String(length=500), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        *_audit_columns(),
        _org_fk("issuer_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_issuer_keys_kid")),
    )
    op.create_index(op.f("ix_issuer_keys_org_id"), "issuer_keys", ["org_id"], unique=False)
    op.create_index("uq_issuer_keys_active", "issuer_keys", ["org_id"], unique=True, postgresql_where=sa.text("active"))

    op.create_table(
        "status_lists",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("etag", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        *_audit_columns(),
        _org_fk("status_lists"),
        sa.CheckConstraint("allocated between 0 and size", name=op.f("ck_status_lists_allocated_in_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_lists")),
    )
    op.create_index(op.f("ix_status_lists_org_id"), "status_lists", ["org_id"], unique=False)

    op.add_column("credentials", sa.Column("enrollment_id", sa.Uuid(), nullable=True))
    op.add_column("credentials", sa.Column("jwt", sa.Text(), server_default="", nullable=False))
    op.add_column("credentials", sa.Column("kid", sa.String(length=500), server_default="", nullable=False))
    op.add_column("credentials", sa.Column("subject_id", sa.String(length=500), server_default="", nullable=False))
    op.add_column("credentials", sa.Column("status_list_id", sa.Uuid(), nullable=True))
    op.add_column("credentials", sa.Column("status_index", sa.Integer(), nullable=True))
    op.add_column("credentials", sa.Column("display_name", sa.String(length=200), server_default="", nullable=False))
    op.create_foreign_key(
        op.f("fk_credentials_enrollment_id_enrollments"),
        "credentials",
        "enrollments",
        ["enrollment_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_credentials_status_list_id_status_lists"),
        "credentials",
        "status_lists",
        ["status_list_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_unique_constraint(op.f("uq_credentials_enrollment_id"), "credentials", ["enrollment_id"])
    op.create_unique_constraint("uq_credentials_status_entry", "credentials", ["status_list_id", "status_index"])
    op.create_index(op.f("ix_credentials_status_list_id"), "credentials", ["status_list_id"], unique=False)

    op.add_column("users", sa.Column("credential_did", sa.String(length=500), nullable=True))

    for table in TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )
    op.execute(_CREDENTIAL_ORG)
    op.execute(_PENDING)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_completed_without_credential(integer)")
    op.execute("drop function if exists lyceum_credential_org(uuid)")
    op.drop_column("users", "credential_did")
    op.drop_index(op.f("ix_credentials_status_list_id"), table_name="credentials")
    op.drop_constraint("uq_credentials_status_entry", "credentials", type_="unique")
    op.drop_constraint(op.f("uq_credentials_enrollment_id"), "credentials", type_="unique")
    op.drop_constraint(op.f("fk_credentials_status_list_id_status_lists"), "credentials", type_="foreignkey")
    op.drop_constraint(op.f("fk_credentials_enrollment_id_enrollments"), "credentials", type_="foreignkey")
    for column in ("display_name", "status_index", "status_list_id", "subject_id", "kid", "jwt", "enrollment_id"):
        op.drop_column("credentials", column)
    op.drop_table("status_lists")
    op.drop_table("issuer_keys")
    op.drop_table("issuer_profiles")
