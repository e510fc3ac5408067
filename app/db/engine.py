"""Database URLs, engines and the tenant-scoped transaction every service uses.

Two roles: the *owner* (DATABASE_URL) runs migrations and owns the tables; the *application role*
(LYCEUM_DB_APP_USER) is what the API and worker connect as. It owns nothing and has no BYPASSRLS,
so PostgreSQL itself applies the row-level security policies of migration 0001 to every query.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from app.config import Settings
from app.db.reads import Row, TenantReads
from app.lib import tracing
from app.lib.problems import is_transient_conflict

T = TypeVar("T")

_SET_TENANT = text("select set_config('app.current_org', :org, true), set_config('app.current_user', :user, true)")


def owner_url(database_url: str) -> URL:
    url = make_url(database_url)
    return url.set(drivername="postgresql+asyncpg")


def app_url(settings: Settings) -> URL:
    """DATABASE_URL with the application role's credentials in place of the owner's."""
    return owner_url(settings.database_url).set(
        username=settings.db_app_user, password=settings.db_app_password.value or None
    )


def create_engine(url: URL, pool_size: int = 5) -> AsyncEngine:
    # Fail in seconds, not asyncpg's 60 s default, when PostgreSQL is unreachable or a query hangs.
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"timeout": 5, "command_timeout": 30},
    )
    event.listen(engine.sync_engine, "checkin", _close_if_in_hidden_transaction)
    event.listen(engine.sync_engine, "checkout", _refuse_if_in_hidden_transaction)
    return engine


def _in_hidden_transaction(dbapi_connection: Any) -> bool:
    """Whether a pooled asyncpg connection is still inside a transaction SQLAlchemy no longer tracks.

    A task cancelled while asyncpg starts a transaction (``BEGIN``, or the BEGIN of ``pool_pre_ping``) leaves
    asyncpg's top transaction set, and often the server's transaction open, after SQLAlchemy has forgotten it,
    so reset-on-return rolls nothing back. Every later transaction on that connection then becomes a
    savepoint inside the hidden one: its commit commits nothing and its row locks are never released
    (a request or job timeout is enough to cause it; sqlalchemy/sqlalchemy#13381)."""
    raw = getattr(dbapi_connection, "driver_connection", None)
    if raw is None or raw.is_closed():
        return False
    return bool(raw.is_in_transaction() or getattr(raw, "_top_xact", None) is not None)


def _close_if_in_hidden_transaction(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # Abort the socket now, so the server rolls the hidden transaction back and its locks go with it, rather
    # than when the connection is next checked out. The next checkout's pre-ping then reconnects.
    if _in_hidden_transaction(dbapi_connection):
        dbapi_connection.driver_connection.terminate()


def _refuse_if_in_hidden_transaction(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    # DisconnectionError makes the pool discard this connection and hand out a fresh one.
    if _in_hidden_transaction(dbapi_connection):
        raise DisconnectionError("pooled connection was inside a transaction nobody owned")


class Database:
    """The application-role engine plus the one way to open a transaction: scoped to an org."""

    def __init__(self, engine: AsyncEngine, pool_size: int = 5) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # One-round-trip reads for the hottest paths (app/db/reads.py); its pool opens on first use.
        self.reads = TenantReads(engine.url, max_size=max(2, pool_size // 2))

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = create_engine(app_url(settings), settings.db_pool_size)
        if tracing.configured(settings):  # a span per statement; with tracing off no hook exists at all
            tracing.instrument_engine(engine)
        return cls(engine, settings.db_pool_size)

    @asynccontextmanager
    async def transaction(self, org_id: UUID | None, user_id: UUID | None = None) -> AsyncIterator[AsyncSession]:
        """Commit on success, roll back on any exception. ``SET LOCAL``-style settings end with the
        transaction, so a pooled connection never carries one tenant's context into another's."""
        async with self.sessions() as session, session.begin():
            await session.execute(_SET_TENANT, {"org": str(org_id or ""), "user": str(user_id or "")})
            yield session

    def for_tenant(self, org_id: UUID, user_id: UUID | None = None) -> TenantDatabase:
        return TenantDatabase(self, org_id, user_id)

    async def dispose(self) -> None:
        await self.reads.close()
        await self.engine.dispose()


class TenantDatabase:
    """The database bound to one tenant (an org, and the signed-in user when there is one): every
    transaction it opens carries them, so a service holding it cannot open an unscoped transaction."""

    def __init__(self, db: Database, org_id: UUID, user_id: UUID | None = None) -> None:
        self._db = db
        self.org_id = org_id
        self.user_id = user_id

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._db.transaction(self.org_id, self.user_id)

    async def read_row(self, function: str, *args: Any) -> Row | None:
        """The first row of ``lyceum_read_<name>(org, user, *args)``: the tenant set and the rows read in one
        statement and one round trip (app/db/reads.py)."""
        return await self._db.reads.fetchrow(function, self.org_id, self.user_id, *args)


async def retry_transient(work: Callable[[], Awaitable[T]], *, attempts: int = 3) -> T:
    """Run ``work`` (one whole transaction, opened inside it) again when PostgreSQL aborts it to break a
    deadlock or a serialization conflict; it wrote nothing, so running it again is safe. The last failure
    propagates and the API answers it as a retryable 503 (app/lib/problems.py)."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except DBAPIError as exc:
            if attempt == attempts or not is_transient_conflict(exc):
                raise
            await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")
