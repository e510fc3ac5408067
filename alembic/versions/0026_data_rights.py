"""data rights (issue 18 item 5): per-org transcript retention, purge marks, the append-only redaction log, and
the owner-only archival path through the append-only triggers

- ``organizations.transcript_retention_days`` (null = keep forever) and ``ai_interactions.content_purged_at``.
- ``redaction_events``: append-only like ``progress_events`` (RLS per org), one row per erasure or purge run.
- ``lyceum_archival_grants``: a transaction id written there lets ``lyceum_refuse_change()`` pass for the rest
  of that transaction. Only the owner can write it (the application role is refused by privileges,
  ``app/db/bootstrap.py``), so only the owner (``lyceum archive org``) and the narrow definer function
  ``lyceum_redact_erased_user`` can change or delete append-only rows. A custom GUC would not do: any role can
  set one, and foreign-key cascades run their triggers as the table owner.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSE_CHANGE = (
    "create or replace function lyceum_refuse_change() returns trigger language plpgsql as $$ "
    "begin "
    "  if exists (select 1 from lyceum_archival_grants g where g.xact = txid_current()) then "
    "    if tg_op = 'DELETE' then return old; end if; "
    "    return new; "
    "  end if; "
    "  raise exception '% is append-only', tg_table_name using errcode = 'insufficient_privilege'; "
    "end $$"
)
REFUSE_CHANGE_0001 = (
    "create or replace function lyceum_refuse_change() returns trigger language plpgsql as "
    "$$ begin raise exception '% is append-only', tg_table_name using errcode = 'insufficient_privilege'; end $$"
)

# The orgs with a transcript retention (ids and days only): the purge job's list, read across tenants.
RETENTION_ORGS = (
    "create function lyceum_transcript_retention_orgs() returns table (org_id uuid, days integer) "
    "language sql stable security definer set search_path = public, pg_temp as $$ "
    "select o.id, o.transcript_retention_days from organizations o "
    "where o.transcript_retention_days is not null order by o.id $$"
)

# Every org a user belongs to (ids only), for the self-service erasure of a member of several orgs.
USER_ORG_IDS = (
    "create function lyceum_user_org_ids(target uuid) returns table (org_id uuid) "
    "language sql stable security definer set search_path = public, pg_temp as $$ "
    "select distinct m.org_id from memberships m where m.user_id = target order by m.org_id $$"
)

# Replace the erased person's email and name in the current org's audit entries about them (or quoting their
# email). Refused unless that org already recorded their erasure, so the function cannot rewrite the audit
# history of anyone else. Returns the number of entries changed.
REDACT_ERASED_USER = (
    "create function lyceum_redact_erased_user(target uuid, old_email text, old_name text) returns integer "
    "language plpgsql security definer set search_path = public, pg_temp as $$ "
    "declare org uuid := lyceum_current_org(); changed integer; "
    "e text := to_jsonb(old_email)::text; n text := to_jsonb(old_name)::text; "
    "begin "
    "  if org is null or not exists (select 1 from redaction_events r where r.org_id = org "
    "      and r.user_id = target and r.kind = 'user_erased') then "
    "    raise exception 'no erasure recorded for this user' using errcode = 'insufficient_privilege'; "
    "  end if; "
    "  insert into lyceum_archival_grants (xact) values (txid_current()) on conflict do nothing; "
    "  update audit_log a set "
    "    before = case when a.before is null then null "
    "      else replace(replace(a.before::text, e, '\"[erased]\"'), n, '\"[erased]\"')::jsonb end, "
    "    after = case when a.after is null then null "
    "      else replace(replace(a.after::text, e, '\"[erased]\"'), n, '\"[erased]\"')::jsonb end "
    "  where a.org_id = org and (a.entity_id = target::text "
    "    or strpos(coalesce(a.before::text, ''), e) > 0 or strpos(coalesce(a.after::text, ''), e) > 0); "
    "  get diagnostics changed = row_count; "
    "  delete from lyceum_archival_grants where xact = txid_current(); "
    "  return changed; "
    "end $$"
)


def upgrade() -> None:
    op.add_column("organizations", sa.Column("transcript_retention_days", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_organizations_transcript_retention_days_range"),
        "organizations",
        "transcript_retention_days between 1 and 3650",
    )
    op.add_column("ai_interactions", sa.Column("content_purged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "redaction_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default="{}"),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind in ('user_erased', 'transcripts_purged')", name=op.f("ck_redaction_events_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_redaction_events_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redaction_events")),
    )
    op.create_index(op.f("ix_redaction_events_org_id"), "redaction_events", ["org_id"], unique=False)
    op.create_index("ix_redaction_events_user_kind", "redaction_events", ["user_id", "kind"], unique=False)
    op.execute("alter table redaction_events enable row level security")
    op.execute(
        "create policy tenant_isolation on redaction_events "
        "using (org_id = lyceum_current_org()) with check (org_id = lyceum_current_org())"
    )
    op.execute(
        "create trigger redaction_events_append_only before update or delete on redaction_events "
        "for each row execute function lyceum_refuse_change()"
    )
    op.create_table("lyceum_archival_grants", sa.Column("xact", sa.BigInteger(), primary_key=True))
    op.execute(REFUSE_CHANGE)
    op.execute(RETENTION_ORGS)
    op.execute(USER_ORG_IDS)
    op.execute(REDACT_ERASED_USER)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_redact_erased_user(uuid, text, text)")
    op.execute("drop function if exists lyceum_user_org_ids(uuid)")
    op.execute("drop function if exists lyceum_transcript_retention_orgs()")
    op.execute(REFUSE_CHANGE_0001)
    op.drop_table("lyceum_archival_grants")
    op.drop_table("redaction_events")
    op.drop_column("ai_interactions", "content_purged_at")
    op.drop_constraint(op.f("ck_organizations_transcript_retention_days_range"), "organizations", type_="check")
    op.drop_column("organizations", "transcript_retention_days")
