"""A pooled connection never goes back into use inside a transaction nobody owns.

A task cancelled while asyncpg starts a transaction can leave the transaction open on the server after
SQLAlchemy has forgotten it (app/db/engine.py ``_in_hidden_transaction``). Here one is opened behind
SQLAlchemy's back on purpose, holding a lock, and the connection is handed back to the pool."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import text

from app.config import Settings
from app.db.engine import Database, create_engine, owner_url

LOCK_KEY = 731_001


async def until_gone(observer: asyncpg.Connection, pid: int) -> None:
    """Wait for a backend to end: the server notices a closed socket on its own schedule (a bound, not a
    timing check: the assertions that follow decide the test)."""
    for _ in range(600):
        if not await observer.fetchval("select count(*) from pg_stat_activity where pid = $1", pid):
            return
        await asyncio.sleep(0.05)


async def test_a_connection_returned_inside_a_hidden_transaction_is_closed_and_its_locks_released(
    settings: Settings, seeded: object
) -> None:
    url = owner_url(settings.database_url)
    db = Database(create_engine(url, pool_size=1), pool_size=1)
    observer = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        async with db.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            hidden = raw.transaction()
            await hidden.start()  # SQLAlchemy does not know about this one, as after a cancelled BEGIN
            await raw.execute(f"select pg_advisory_xact_lock({LOCK_KEY})")
            hidden_pid = raw.get_server_pid()
        # Back in the pool: the connection was closed, so its backend ends and the lock goes with it, rather
        # than staying held by an idle connection for as long as the pool keeps it.
        await until_gone(observer, hidden_pid)
        assert await observer.fetchval(f"select pg_try_advisory_lock({LOCK_KEY})") is True
        await observer.execute(f"select pg_advisory_unlock({LOCK_KEY})")
        # And the next transaction from the pool commits for real (not as a savepoint inside the hidden one).
        async with db.transaction(None) as session:
            backend = await session.scalar(text("select pg_backend_pid()"))
            committed = await session.scalar(text("select pg_current_xact_id()::text"))
        assert backend is not None
        status = await observer.fetchval("select pg_xact_status($1::text::xid8)", committed)
        assert status == "committed"
    finally:
        await observer.close()
        await db.dispose()
