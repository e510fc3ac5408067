"""Tenant reads in one round trip, for the hottest read paths (issue 15).

A read through ``Database.transaction`` costs five round trips and SQLAlchemy's Python on each: the pool's
pre-ping, BEGIN, ``set_config`` of the org and user, the query, COMMIT (about 2 ms of CPU per request). Here
the whole read is one statement, ``select * from lyceum_read_<name>($org, $user, ...)``: a SECURITY INVOKER
plpgsql function (migration 0015) whose first statement is ``perform lyceum_set_tenant(p_org, p_user)`` and
whose next one reads. It runs as the application role, outside any transaction block, so PostgreSQL wraps the
statement in its own transaction: the settings (``set_config(..., true)``) end with it, and row-level security
filters every table the function reads exactly as in ``Database.transaction``. The org and user are always the
first two arguments, supplied by ``TenantDatabase.read_row``, so a caller cannot leave the tenant out.

The connections come from a small asyncpg pool of their own (opened on first use; the same application-role
credentials as the engine; at most half of ``LYCEUM_DB_POOL_SIZE`` connections, closed after a minute idle: a
read holds one for a single round trip).
Nothing is ever set for the session, so a connection needs no reset when it goes back to the pool (asyncpg's
default reset is one more round trip). A read is retried once on a connection that turned out dead (PostgreSQL
restarted), after every connection of the pool has been marked for replacement; no connection to be had
(PostgreSQL down, out of connection slots, none free within 10 s) or no answer in time is a 503, like the
engine's ``OperationalError``.

Add a read here only for a hot path that reads little: a new ``lyceum_read_*`` function needs a migration.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL

from app.lib import tracing
from app.lib.errors import ServiceUnavailable

Row = Sequence[Any]  # an asyncpg Record: columns by position (and by name)
_FUNCTION = re.compile(r"^lyceum_read_[a-z_]{1,50}$")
# The connection, not the query, failed: safe to try a read once more on a fresh connection.
_CONNECTION_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The database is unavailable; try again shortly", headers={"Retry-After": "5"})


async def _no_reset(_: asyncpg.Connection) -> None:
    """Nothing outlives a statement on these connections (no session settings, no transaction block)."""


class TenantReads:
    def __init__(self, url: URL, max_size: int) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._database, self._host = url.database or "", url.host or ""  # for traces' statement spans
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._sql: dict[tuple[str, int], str] = {}
        self._in_use = 0  # connections held by reads right now (every acquire goes through fetchrow)

    async def fetchrow(self, function: str, org_id: UUID, user_id: UUID | None, *args: Any) -> Row | None:
        """The first row of ``lyceum_read_<name>(org, user, *args)``, or None."""
        sql = self._statement(function, 2 + len(args))
        for attempt in range(2):
            # Counted before the wait, so the count covers callers still waiting: while it is below the pool's
            # size a connection is free for this caller and is handed over at once, with no timer (asyncio's
            # costs ~25 us, a sixth of the read). Only when all are taken is the wait bounded, like the engine's.
            timeout = None if self._in_use < self._max_size else 10
            self._in_use += 1
            try:
                pool = self._pool or await self._open()
                connection = await pool.acquire(timeout=timeout)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self._in_use -= 1
                # No connection: PostgreSQL down, out of connection slots, or none free in time.
                raise _unavailable() from exc
            except BaseException:
                self._in_use -= 1
                raise
            try:
                if tracing.enabled():  # off: this check is all tracing costs the hot path
                    with tracing.statement_span(sql, self._database, self._host):
                        row: Row | None = await connection.fetchrow(sql, org_id, user_id, *args)
                else:
                    row = await connection.fetchrow(sql, org_id, user_id, *args)
                return row
            except TimeoutError as exc:  # PostgreSQL did not answer: no second wait
                raise _unavailable() from exc
            except _CONNECTION_ERRORS as exc:
                if attempt == 1:
                    raise _unavailable() from exc
                # One dead connection means PostgreSQL restarted: the pool's other idle ones died with it.
                # Replace them all, so the retry (and every read after it) gets a live one, as the engine's
                # pre-ping invalidates its whole pool; a retry on another dead one would answer 503 after
                # PostgreSQL is back.
                await pool.expire_connections()
            finally:
                self._in_use -= 1
                await pool.release(connection)
        raise AssertionError("unreachable")

    def _statement(self, function: str, arity: int) -> str:
        sql = self._sql.get((function, arity))
        if sql is None:
            if not _FUNCTION.match(function):
                raise ValueError(f"not a lyceum_read_* function: {function!r}")
            placeholders = ", ".join(f"${i}" for i in range(1, arity + 1))
            # The name is checked against _FUNCTION above and every value is a bind parameter.
            sql = self._sql[(function, arity)] = f"select * from {function}({placeholders})"  # noqa: S608
        return sql

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._max_size,
                    max_inactive_connection_lifetime=60,  # idle connections go back to PostgreSQL
                    reset=_no_reset,
                    timeout=5,  # connect, as the engine: fail in seconds when PostgreSQL is unreachable
                    command_timeout=30,
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
