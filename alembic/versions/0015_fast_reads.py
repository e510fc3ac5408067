"""fast reads (issue 15): one-round-trip tenant reads. ``lyceum_set_tenant`` sets the org and user for the
current transaction (what ``Database.transaction`` does with ``set_config``); a ``lyceum_read_*`` function
calls it as its first statement and then reads, so the tenant is set and the rows come back in one statement
and one round trip. The functions are SECURITY INVOKER (the default): they run as the application role and
row-level security filters every table they read exactly as in a transaction (app/db/reads.py).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SET_TENANT = """
create function lyceum_set_tenant(p_org uuid, p_user uuid) returns void language plpgsql volatile as $$
begin
  -- is_local = true: the settings end with the transaction (for one statement outside a transaction
  -- block, with that statement), so a pooled connection never carries them to the next caller.
  perform set_config('app.current_org', coalesce(p_org::text, ''), true);
  perform set_config('app.current_user', coalesce(p_user::text, ''), true);
end
$$
"""

# GET /v1/courses/{id}: the caller's own enrollment in the course. plpgsql runs its statements in order, so the
# tenant is set before the query reads enrollments (a set_config in a CTE or subquery of the same statement has
# no such guarantee: the planner may evaluate the policy's lyceum_current_org() first).
_READ_ENROLLMENT = """
create function lyceum_read_enrollment(p_org uuid, p_user uuid, p_course uuid)
returns table (enrollment_id uuid, enrollment_status text) language plpgsql volatile as $$
begin
  perform lyceum_set_tenant(p_org, p_user);
  return query
    select e.id, e.status::text from enrollments e where e.course_id = p_course and e.user_id = p_user;
end
$$
"""


def upgrade() -> None:
    op.execute(_SET_TENANT)
    op.execute(_READ_ENROLLMENT)


def downgrade() -> None:
    op.execute("drop function if exists lyceum_read_enrollment(uuid, uuid, uuid)")
    op.execute("drop function if exists lyceum_set_tenant(uuid, uuid)")
