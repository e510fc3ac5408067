"""Run migrations and (re)grant the application role. Idempotent: ``lyceum migrate`` runs it at every start."""

from __future__ import annotations

import asyncio
import re

from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from alembic import command
from app.config import ConfigError, Settings
from app.db.engine import create_engine, owner_url
from app.lib.release import shipped_path

ALEMBIC_DIR = shipped_path("alembic")
APPEND_ONLY_TABLES = ("progress_events", "audit_log", "redaction_events")
# Written only by `lyceum migrate` (the owner): the application role may read them, never change them.
OWNER_WRITTEN_TABLES = ("platform_operators", "lyceum_archival_grants")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    # ConfigParser treats % as interpolation; escape it so passwords with % survive.
    cfg.set_main_option("sqlalchemy.url", owner_url(database_url).render_as_string(False).replace("%", "%%"))
    return cfg


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def ensure_app_role(settings: Settings) -> None:
    """Create the non-owner login role if missing and grant it data access (never DDL, never BYPASSRLS)."""
    role = settings.db_app_user
    if not _ROLE_NAME.match(role):
        raise ConfigError(f"LYCEUM_DB_APP_USER={role!r} must be a lower-case SQL identifier")
    # Roles belong to the whole server, not one database: two processes migrating two databases at once (the
    # test workers, or two services sharing a server) race on the same pg_authid row, and PostgreSQL refuses
    # the loser ("tuple concurrently updated", or "already exists" for two creates). The statements are
    # idempotent, so the loser runs them again.
    for attempt in range(1, _ROLE_ATTEMPTS + 1):
        try:
            await _apply_app_role(settings, role)
            return
        except DBAPIError as exc:
            message = str(exc.orig) if exc.orig else str(exc)
            if attempt == _ROLE_ATTEMPTS or not any(race in message for race in _ROLE_RACES):
                raise
            await asyncio.sleep(0.1 * attempt)


_ROLE_ATTEMPTS = 5
_ROLE_RACES = ("tuple concurrently updated", "already exists", "concurrently")


async def _apply_app_role(settings: Settings, role: str) -> None:
    password = settings.db_app_password.value
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            exists = await conn.scalar(text("select 1 from pg_roles where rolname = :r"), {"r": role})
            verb = "alter" if exists else "create"
            # Always (re)set the password, so changing LYCEUM_DB_APP_PASSWORD and migrating rotates it.
            await conn.execute(
                text(
                    f"{verb} role {role} login nosuperuser nobypassrls nocreatedb nocreaterole "
                    f"password {_quote_literal(password)}"
                )
            )
            database = await conn.scalar(text("select current_database()"))
            for statement in (
                f'grant connect on database "{database}" to {role}',
                f"grant usage on schema public to {role}",
                f"grant select, insert, update, delete on all tables in schema public to {role}",
                f"revoke update, delete on {', '.join(APPEND_ONLY_TABLES)} from {role}",
                f"revoke insert, update, delete on {', '.join(OWNER_WRITTEN_TABLES)} from {role}",
                f"revoke all on alembic_version from {role}",
                f"grant execute on all functions in schema public to {role}",
            ):
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def run_migrations(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


async def sync_platform_operators(settings: Settings) -> None:
    """Record LYCEUM_PLATFORM_ORG (or nobody) as the org whose admins operate the deployment: the database's
    own check for reading every org's figures (``lyceum_is_platform_operator``, migration 0023)."""
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("delete from platform_operators where org_slug <> :slug"), {"slug": settings.platform_org}
            )
            if settings.platform_org:
                await conn.execute(
                    text("insert into platform_operators (org_slug) values (:slug) on conflict do nothing"),
                    {"slug": settings.platform_org},
                )
    finally:
        await engine.dispose()


async def migrate(settings: Settings) -> None:
    # Alembic's env.py runs its own event loop; keep it off ours.
    await asyncio.to_thread(run_migrations, settings.database_url)
    await ensure_app_role(settings)
    await sync_platform_operators(settings)
