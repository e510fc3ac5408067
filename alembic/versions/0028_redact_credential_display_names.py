"""erasure redacts the names a person showed on their credentials (issue 18 item 5)

``lyceum_redact_erased_user`` also reaches the audit entries of the person's credentials whose
``display_name`` they changed (``credential.display_name``, before and after): those entries are about a
credential, not the person, and quote neither the person's email nor their account name, so the 0026
version left the names they chose to show publicly in the org's audit log.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The 0026 function, unchanged, with the display-name update before the grant is withdrawn.
_HEAD = (
    "create or replace function lyceum_redact_erased_user(target uuid, old_email text, old_name text) "
    "returns integer language plpgsql security definer set search_path = public, pg_temp as $$ "
    "declare org uuid := lyceum_current_org(); changed integer; shown integer := 0; "
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
)
_DISPLAY_NAMES = (
    "  update audit_log a set "
    "    before = case when a.before -> 'display_name' is null then a.before "
    "      else jsonb_set(a.before, '{display_name}', '\"[erased]\"') end, "
    "    after = case when a.after -> 'display_name' is null then a.after "
    "      else jsonb_set(a.after, '{display_name}', '\"[erased]\"') end "
    "  where a.org_id = org and a.action = 'credential.display_name' and a.entity_id in "
    "    (select c.id::text from credentials c where c.org_id = org and c.user_id = target); "
    "  get diagnostics shown = row_count; "
)
_TAIL = "  delete from lyceum_archival_grants where xact = txid_current(); return changed + shown; end $$"


def upgrade() -> None:
    op.execute(_HEAD + _DISPLAY_NAMES + _TAIL)


def downgrade() -> None:
    op.execute(_HEAD + _TAIL)
