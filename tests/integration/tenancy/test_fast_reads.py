"""One-round-trip tenant reads (app/db/reads.py): the lyceum_read_* functions set the tenant themselves and
row-level security still decides what they see."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db.engine import Database, app_url, create_engine, owner_url
from app.db.reads import TenantReads
from app.lib.errors import ServiceUnavailable


@pytest.fixture
async def db(settings: Settings, seeded: object) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


async def an_enrollment(settings: Settings) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID, str]:
    """(org, other org, user, course, status) of a seeded enrollment, read as the owner (no RLS)."""
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    async with engine.connect() as conn:
        org, user, course, status = (
            await conn.execute(text("select org_id, user_id, course_id, status from enrollments limit 1"))
        ).one()
        other = await conn.scalar(text("select id from organizations where id <> :org limit 1"), {"org": org})
    await engine.dispose()
    return org, other, user, course, status


async def test_read_sees_only_the_callers_org(db: Database, settings: Settings) -> None:
    org, other, user, course, status = await an_enrollment(settings)
    row = await db.for_tenant(org, user).read_row("lyceum_read_enrollment", course)
    assert row is not None
    assert row[1] == status
    # The same user and course asked under another org: RLS hides the row.
    assert await db.for_tenant(other, user).read_row("lyceum_read_enrollment", course) is None
    assert await db.for_tenant(uuid.uuid4(), user).read_row("lyceum_read_enrollment", course) is None


async def test_the_tenant_does_not_outlive_the_read(settings: Settings, seeded: object) -> None:
    org, _, user, course, _ = await an_enrollment(settings)
    reads = TenantReads(app_url(settings), max_size=1)  # one connection: the check below reuses it
    try:
        assert await reads.fetchrow("lyceum_read_enrollment", org, user, course) is not None
        pool = reads._pool
        assert pool is not None
        async with pool.acquire() as connection:
            assert (await connection.fetchval("select coalesce(current_setting('app.current_org', true), '')")) == ""
            assert (await connection.fetchval("select current_user")) == settings.db_app_user
            # And a plain query on that connection sees no enrollment at all.
            assert await connection.fetchval("select count(*) from enrollments") == 0
    finally:
        await reads.close()


async def test_only_read_functions_can_be_called(db: Database) -> None:
    tenant = db.for_tenant(uuid.uuid4(), uuid.uuid4())
    for name in ("pg_sleep", "lyceum_read_x; drop table users", "lyceum_set_tenant"):
        with pytest.raises(ValueError, match="lyceum_read_"):
            await tenant.read_row(name, uuid.uuid4())


async def test_unreachable_database_is_a_503() -> None:
    reads = TenantReads(make_url("postgresql+asyncpg://nobody@127.0.0.1:1/none"), max_size=1)
    try:
        with pytest.raises(ServiceUnavailable):
            await reads.fetchrow("lyceum_read_enrollment", uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    finally:
        await reads.close()
