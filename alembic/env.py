"""Alembic environment: async engine as the table owner, metadata from app.db.models."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from app.db.models import Base

target_metadata = Base.metadata


def _url_from_settings() -> str:
    """Plain `uv run alembic ...` (without `lyceum migrate`): take DATABASE_URL from the settings."""
    from app.config import load_settings
    from app.db.engine import owner_url

    database_url = load_settings().database_url
    if not database_url:
        raise SystemExit("alembic: set DATABASE_URL (the table owner's URL), or use `lyceum migrate`")
    return owner_url(database_url).render_as_string(hide_password=False)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or _url_from_settings()
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
