"""Tenant isolation is enforced by PostgreSQL row-level security, not only by application code."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from app.config import Settings
from app.db.engine import Database, create_engine, owner_url
from app.db.models import ORG_SCOPED_TABLES


@pytest.fixture
async def db(settings: Settings, seeded: object):
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


async def org_ids(settings: Settings) -> dict[str, UUID]:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("select slug, id from organizations"))).all()
    await engine.dispose()
    return {slug: org_id for slug, org_id in rows}


async def test_app_role_cannot_bypass_rls(db: Database, settings: Settings) -> None:
    async with db.transaction(None) as session:
        row = (
            await session.execute(
                text("select rolsuper, rolbypassrls, current_user from pg_roles where rolname = current_user")
            )
        ).one()
        owners = set(
            (
                await session.execute(text("select distinct tableowner from pg_tables where schemaname = 'public'"))
            ).scalars()
        )
    assert row.rolsuper is False
    assert row.rolbypassrls is False
    assert row.current_user == settings.db_app_user
    assert settings.db_app_user not in owners


async def test_every_org_scoped_table_has_rls_policy(db: Database) -> None:
    async with db.transaction(None) as session:
        enabled = dict(
            (
                await session.execute(
                    text("select relname, relrowsecurity from pg_class where relname = any(:names)"),
                    {"names": list(ORG_SCOPED_TABLES)},
                )
            ).all()
        )
        with_policy = set((await session.execute(text("select tablename from pg_policies"))).scalars())
    assert all(enabled[t] for t in ORG_SCOPED_TABLES), enabled
    assert set(ORG_SCOPED_TABLES) <= with_policy


async def test_unscoped_select_for_org_a_returns_no_rows_of_org_b(db: Database, settings: Settings) -> None:
    orgs = await org_ids(settings)
    demo, acme = orgs["demo"], orgs["acme"]
    async with db.transaction(demo) as session:
        # Deliberately no WHERE clause: the database must filter.
        course_orgs = set((await session.execute(text("select org_id from courses"))).scalars())
        item_orgs = set((await session.execute(text("select org_id from items"))).scalars())
        member_orgs = set((await session.execute(text("select org_id from memberships"))).scalars())
        visible_orgs = set((await session.execute(text("select id from organizations"))).scalars())
        emails = set((await session.execute(text("select email from users"))).scalars())
    assert course_orgs == {demo}
    assert item_orgs == {demo}
    assert member_orgs == {demo}
    assert visible_orgs == {demo}
    assert emails
    # Visible users are demo's members only (other tests add LMS-provisioned demo users at @lti.invalid).
    assert not any(e.endswith("@acme.test") for e in emails), emails
    assert "admin@acme.test" not in emails
    assert acme not in course_orgs


async def test_no_org_set_sees_nothing(db: Database) -> None:
    async with db.transaction(None) as session:
        for table in ("courses", "memberships", "users", "organizations", "audit_log"):
            assert await session.scalar(text(f"select count(*) from {table}")) == 0


async def test_writes_across_orgs_fail(db: Database, settings: Settings) -> None:
    orgs = await org_ids(settings)
    demo, acme = orgs["demo"], orgs["acme"]
    with pytest.raises((ProgrammingError, DBAPIError), match="row-level security"):
        async with db.transaction(demo) as session:
            await session.execute(
                text(
                    "insert into courses (id, org_id, slug, title, summary, description, level, tags, estimated_hours,"
                    " is_published, version, content_hash, extra, created_at, updated_at) values (gen_random_uuid(),"
                    " :org, 'smuggled', 'x', '', '', 'beginner', '[]', 0, true, 1, '', '{}', now(), now())"
                ),
                {"org": acme},
            )
    async with db.transaction(demo) as session:
        updated = await session.execute(
            text("update courses set title = 'hijacked' where org_id = :org"), {"org": acme}
        )
        deleted = await session.execute(text("delete from enrollments where org_id = :org"), {"org": acme})
        assert updated.rowcount == 0  # type: ignore[attr-defined]
        assert deleted.rowcount == 0  # type: ignore[attr-defined]
    with pytest.raises((ProgrammingError, DBAPIError), match="row-level security"):
        async with db.transaction(demo) as session:
            # Moving a row of your own org into another org is a cross-org write too.
            await session.execute(text("update courses set org_id = :org"), {"org": acme})


async def test_append_only_tables_refuse_update_and_delete(db: Database, settings: Settings) -> None:
    orgs = await org_ids(settings)
    for statement in ("update audit_log set action = 'x'", "delete from progress_events"):
        with pytest.raises((ProgrammingError, DBAPIError), match="permission denied"):
            async with db.transaction(orgs["demo"]) as session:
                await session.execute(text(statement))
