"""platform operators (issue 17 item 4): the org whose admins operate the whole deployment
(LYCEUM_PLATFORM_ORG, written here by `lyceum migrate`, never by the application role), and the definer
functions through which they, and only they, read every org's AI usage rollup. The check is in the database:
the caller's tenant must be that org and the caller an admin member of it.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IS_OPERATOR = (
    "create function lyceum_is_platform_operator() returns boolean language sql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "select exists (select 1 from platform_operators p "
    "join organizations o on o.slug = p.org_slug "
    "join memberships m on m.org_id = o.id "
    "where o.id = lyceum_current_org() and m.user_id = lyceum_current_user() and m.role = 'admin') $$"
)

# Every org's rollup rows in a range (one grain), with the org's slug; refused to anyone but an operator.
_PLATFORM_USAGE = (
    "create function lyceum_platform_ai_usage(grain_in text, start_at timestamptz, end_at timestamptz) "
    "returns table (org_slug text, bucket timestamptz, turns bigint, input_tokens bigint, output_tokens bigint, "
    "cost_usd numeric, ttft_hist integer[]) language plpgsql stable security definer "
    "set search_path = public, pg_temp as $$ "
    "begin "
    "if not lyceum_is_platform_operator() then "
    "raise exception 'only platform operators read every organisation''s usage' using errcode = '42501'; "
    "end if; "
    "return query select o.slug::text, u.bucket, u.turns::bigint, u.input_tokens::bigint, "
    "u.output_tokens::bigint, u.cost_usd::numeric, u.ttft_hist::integer[] "
    "from ai_usage_rollup u join organizations o on o.id = u.org_id "
    "where u.grain = grain_in and u.bucket >= start_at and u.bucket < end_at; "
    "end $$"
)


def upgrade() -> None:
    op.create_table(
        "platform_operators",
        sa.Column("org_slug", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("org_slug", name=op.f("pk_platform_operators")),
    )
    op.execute(_IS_OPERATOR)
    op.execute(_PLATFORM_USAGE)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_platform_ai_usage(text, timestamptz, timestamptz)")
    op.execute("drop function if exists lyceum_is_platform_operator()")
    op.drop_table("platform_operators")
