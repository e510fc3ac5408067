"""A PostgreSQL database of a test's own on the test server: created empty, dropped (forced) afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from app.config import Settings
from app.db.engine import create_engine, owner_url


@contextmanager
def scratch_database(server_database_url: str, name: str) -> Iterator[str]:
    """Yield the owner URL of a new database ``name``; drop it when the block ends."""
    admin = owner_url(server_database_url)

    async def run(statement: str) -> None:
        engine = create_engine(admin, pool_size=1).execution_options(isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(statement))
        await engine.dispose()

    asyncio.run(run(f'create database "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'drop database if exists "{name}" with (force)'))


async def owner_sql(settings: Settings, statement: str, params: dict[str, Any] | None = None) -> list[Any]:
    """Run one SQL statement as the table owner (no RLS): for arranging and inspecting rows in tests."""
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params or {})
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()
