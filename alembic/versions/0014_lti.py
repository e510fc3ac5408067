"""lti (issue 14): LTI 1.3 tool keys (global, sealed RSA), platform registrations (one org each, unique by
issuer + client_id), LMS users, contexts and their members, resource links with their line items, and the
scores owed to platforms (AGS, written with the grade, posted by a job); definer functions for the lookups
that happen before the org is known (a launch, the frame-ancestors list, the cross-org sweeps)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ORG_TABLES = (
    "lti_platforms",
    "lti_users",
    "lti_contexts",
    "lti_context_members",
    "lti_resource_links",
    "lti_score_posts",
)

# A launch (and the OIDC login before it) names an issuer and a client_id, not an org: a definer function
# that reveals the registration id and org of one (issuer, client_id) pair, nothing else. client_id null:
# the login initiation may omit it, which only resolves when the issuer has exactly one registration.
_PLATFORM_LOOKUP = (
    "create function lyceum_lti_platform(platform_issuer text, platform_client_id text) "
    "returns table (platform_id uuid, org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select p.id, p.org_id from lti_platforms p where p.issuer = platform_issuer "
    "and (p.client_id = platform_client_id or (platform_client_id is null and "
    "(select count(*) from lti_platforms q where q.issuer = platform_issuer) = 1)) $$"
)
# The web app's Content-Security-Policy frame-ancestors: every registered platform's login URL and issuer
# (the LMS pages that embed the tool are usually on one of those origins) and the extra origins an admin
# named (extra.frame_origins: Canvas Cloud frames from the school's own domain), all orgs; URLs, the caller
# takes their origins.
_FRAME_ORIGINS = (
    "create function lyceum_lti_frame_origins() returns table (url text) language sql stable security definer "
    "set search_path = public, pg_temp as $$ select auth_login_url from lti_platforms "
    "union select issuer from lti_platforms "
    "union select jsonb_array_elements_text(case when jsonb_typeof(extra->'frame_origins') = 'array' "
    "then extra->'frame_origins' else '[]'::jsonb end) from lti_platforms $$"
)
# The nightly roster sync spans every org: linked contexts with an NRPS endpoint, ids only.
_CONTEXTS_TO_SYNC = (
    "create function lyceum_lti_contexts_with_roster(max_rows integer) "
    "returns table (context_pk uuid, org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select c.id, c.org_id from lti_contexts c where c.nrps_url is not null "
    "order by c.roster_synced_at nulls first limit max_rows $$"
)
# Scores owed to platforms that no job has delivered yet (a lost enqueue, a crash), ids only.
_PENDING_SCORES = (
    "create function lyceum_lti_pending_score_posts(max_rows integer) "
    "returns table (score_post_id uuid, org_id uuid) language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select s.id, s.org_id from lti_score_posts s where s.status = 'pending' "
    "order by s.created_at limit max_rows $$"
)


def upgrade() -> None:
    op.create_table(
        "lti_tool_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kid", sa.String(length=100), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_tool_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_lti_tool_keys_kid")),
    )
    op.create_index(
        "uq_lti_tool_keys_active", "lti_tool_keys", ["active"], unique=True, postgresql_where=sa.text("active")
    )
    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=500), nullable=False),
        sa.Column("auth_login_url", sa.String(length=1000), nullable=False),
        sa.Column("auth_token_url", sa.String(length=1000), nullable=False),
        sa.Column("key_set_url", sa.String(length=1000), nullable=False),
        sa.Column("deployment_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("registered_by", sa.String(length=20), nullable=False),
        sa.Column("extra", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("registered_by in ('admin', 'dynamic')", name=op.f("ck_lti_platforms_registered_by_known")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_lti_platforms_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_platforms")),
    )
    op.create_index(op.f("ix_lti_platforms_org_id"), "lti_platforms", ["org_id"], unique=False)
    op.create_index("uq_lti_platforms_issuer_client", "lti_platforms", ["issuer", "client_id"], unique=True)
    op.create_table(
        "lti_contexts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("platform_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=True),
        sa.Column("deployment_id", sa.String(length=255), nullable=False),
        sa.Column("nrps_url", sa.String(length=1000), nullable=True),
        sa.Column("ags_lineitems_url", sa.String(length=1000), nullable=True),
        sa.Column("ags_scopes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("roster_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_lti_contexts_course_id_courses"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_lti_contexts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name=op.f("fk_lti_contexts_platform_id_lti_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_contexts")),
    )
    op.create_index(op.f("ix_lti_contexts_course_id"), "lti_contexts", ["course_id"], unique=False)
    op.create_index(op.f("ix_lti_contexts_org_id"), "lti_contexts", ["org_id"], unique=False)
    op.create_index(op.f("ix_lti_contexts_platform_id"), "lti_contexts", ["platform_id"], unique=False)
    op.create_index("uq_lti_contexts_platform_context", "lti_contexts", ["platform_id", "context_id"], unique=True)
    op.create_table(
        "lti_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("platform_id", sa.Uuid(), nullable=False),
        sa.Column("sub", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_lti_users_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name=op.f("fk_lti_users_platform_id_lti_platforms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_lti_users_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_users")),
    )
    op.create_index(op.f("ix_lti_users_org_id"), "lti_users", ["org_id"], unique=False)
    op.create_index(op.f("ix_lti_users_platform_id"), "lti_users", ["platform_id"], unique=False)
    op.create_index(op.f("ix_lti_users_user_id"), "lti_users", ["user_id"], unique=False)
    op.create_index("uq_lti_users_platform_sub", "lti_users", ["platform_id", "sub"], unique=True)
    op.create_table(
        "lti_context_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("context_pk", sa.Uuid(), nullable=False),
        sa.Column("lti_user_pk", sa.Uuid(), nullable=False),
        sa.Column("roles", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_pk"],
            ["lti_contexts.id"],
            name=op.f("fk_lti_context_members_context_pk_lti_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lti_user_pk"],
            ["lti_users.id"],
            name=op.f("fk_lti_context_members_lti_user_pk_lti_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_lti_context_members_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_context_members")),
    )
    op.create_index(op.f("ix_lti_context_members_context_pk"), "lti_context_members", ["context_pk"], unique=False)
    op.create_index(op.f("ix_lti_context_members_lti_user_pk"), "lti_context_members", ["lti_user_pk"], unique=False)
    op.create_index(op.f("ix_lti_context_members_org_id"), "lti_context_members", ["org_id"], unique=False)
    op.create_index("uq_lti_context_members", "lti_context_members", ["context_pk", "lti_user_pk"], unique=True)
    op.create_table(
        "lti_resource_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("platform_id", sa.Uuid(), nullable=False),
        sa.Column("context_pk", sa.Uuid(), nullable=True),
        sa.Column("resource_link_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=True),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("lineitem_url", sa.String(length=1000), nullable=True),
        sa.Column("score_maximum", sa.Float(), nullable=True),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_pk"],
            ["lti_contexts.id"],
            name=op.f("fk_lti_resource_links_context_pk_lti_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_lti_resource_links_course_id_courses"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_lti_resource_links_item_id_items"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_lti_resource_links_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platforms.id"],
            name=op.f("fk_lti_resource_links_platform_id_lti_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_resource_links")),
    )
    op.create_index(op.f("ix_lti_resource_links_context_pk"), "lti_resource_links", ["context_pk"], unique=False)
    op.create_index(op.f("ix_lti_resource_links_course_id"), "lti_resource_links", ["course_id"], unique=False)
    op.create_index(op.f("ix_lti_resource_links_item_id"), "lti_resource_links", ["item_id"], unique=False)
    op.create_index(op.f("ix_lti_resource_links_org_id"), "lti_resource_links", ["org_id"], unique=False)
    op.create_index(op.f("ix_lti_resource_links_platform_id"), "lti_resource_links", ["platform_id"], unique=False)
    op.create_index(
        "uq_lti_resource_links_platform_link", "lti_resource_links", ["platform_id", "resource_link_id"], unique=True
    )
    op.create_table(
        "lti_score_posts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("resource_link_pk", sa.Uuid(), nullable=False),
        sa.Column("lti_user_pk", sa.Uuid(), nullable=False),
        sa.Column("score_given", sa.Float(), nullable=True),
        sa.Column("score_maximum", sa.Float(), nullable=False),
        sa.Column("activity_progress", sa.String(length=20), nullable=False),
        sa.Column("grading_progress", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status in ('pending', 'posted', 'failed')", name=op.f("ck_lti_score_posts_status_known")),
        sa.ForeignKeyConstraint(
            ["lti_user_pk"], ["lti_users.id"], name=op.f("fk_lti_score_posts_lti_user_pk_lti_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_lti_score_posts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_pk"],
            ["lti_resource_links.id"],
            name=op.f("fk_lti_score_posts_resource_link_pk_lti_resource_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_lti_score_posts_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_score_posts")),
    )
    op.create_index(op.f("ix_lti_score_posts_lti_user_pk"), "lti_score_posts", ["lti_user_pk"], unique=False)
    op.create_index(op.f("ix_lti_score_posts_org_id"), "lti_score_posts", ["org_id"], unique=False)
    op.create_index(op.f("ix_lti_score_posts_resource_link_pk"), "lti_score_posts", ["resource_link_pk"], unique=False)
    op.create_index(op.f("ix_lti_score_posts_submission_id"), "lti_score_posts", ["submission_id"], unique=False)
    op.create_index(
        "uq_lti_score_posts", "lti_score_posts", ["submission_id", "resource_link_pk", "grading_progress"], unique=True
    )

    for table in ORG_TABLES:
        op.execute(f"alter table {table} enable row level security")
        op.execute(
            f"create policy tenant_isolation on {table} "
            "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
        )
    for function in (_PLATFORM_LOOKUP, _FRAME_ORIGINS, _CONTEXTS_TO_SYNC, _PENDING_SCORES):
        op.execute(function)


def downgrade() -> None:
    for function in (
        "lyceum_lti_pending_score_posts(integer)",
        "lyceum_lti_contexts_with_roster(integer)",
        "lyceum_lti_frame_origins()",
        "lyceum_lti_platform(text, text)",
    ):
        op.execute(f"drop function if exists {function}")
    op.drop_index("uq_lti_score_posts", table_name="lti_score_posts")
    op.drop_index(op.f("ix_lti_score_posts_submission_id"), table_name="lti_score_posts")
    op.drop_index(op.f("ix_lti_score_posts_resource_link_pk"), table_name="lti_score_posts")
    op.drop_index(op.f("ix_lti_score_posts_org_id"), table_name="lti_score_posts")
    op.drop_index(op.f("ix_lti_score_posts_lti_user_pk"), table_name="lti_score_posts")
    op.drop_table("lti_score_posts")
    op.drop_index("uq_lti_resource_links_platform_link", table_name="lti_resource_links")
    op.drop_index(op.f("ix_lti_resource_links_platform_id"), table_name="lti_resource_links")
    op.drop_index(op.f("ix_lti_resource_links_org_id"), table_name="lti_resource_links")
    op.drop_index(op.f("ix_lti_resource_links_item_id"), table_name="lti_resource_links")
    op.drop_index(op.f("ix_lti_resource_links_course_id"), table_name="lti_resource_links")
    op.drop_index(op.f("ix_lti_resource_links_context_pk"), table_name="lti_resource_links")
    op.drop_table("lti_resource_links")
    op.drop_index("uq_lti_context_members", table_name="lti_context_members")
    op.drop_index(op.f("ix_lti_context_members_org_id"), table_name="lti_context_members")
    op.drop_index(op.f("ix_lti_context_members_lti_user_pk"), table_name="lti_context_members")
    op.drop_index(op.f("ix_lti_context_members_context_pk"), table_name="lti_context_members")
    op.drop_table("lti_context_members")
    op.drop_index("uq_lti_users_platform_sub", table_name="lti_users")
    op.drop_index(op.f("ix_lti_users_user_id"), table_name="lti_users")
    op.drop_index(op.f("ix_lti_users_platform_id"), table_name="lti_users")
    op.drop_index(op.f("ix_lti_users_org_id"), table_name="lti_users")
    op.drop_table("lti_users")
    op.drop_index("uq_lti_contexts_platform_context", table_name="lti_contexts")
    op.drop_index(op.f("ix_lti_contexts_platform_id"), table_name="lti_contexts")
    op.drop_index(op.f("ix_lti_contexts_org_id"), table_name="lti_contexts")
    op.drop_index(op.f("ix_lti_contexts_course_id"), table_name="lti_contexts")
    op.drop_table("lti_contexts")
    op.drop_index("uq_lti_platforms_issuer_client", table_name="lti_platforms")
    op.drop_index(op.f("ix_lti_platforms_org_id"), table_name="lti_platforms")
    op.drop_table("lti_platforms")
    op.drop_index("uq_lti_tool_keys_active", table_name="lti_tool_keys", postgresql_where=sa.text("active"))
    op.drop_table("lti_tool_keys")
