"""Test helper: put a refresh token's rotation outside the reuse grace window without waiting for it.

Moving ``rotated_at`` back in the database is what the passing of time would do; tests never sleep."""

from __future__ import annotations

import asyncio
import base64
import json
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from app.db.engine import create_engine, owner_url


def token_id(refresh_token: str) -> str:
    payload = refresh_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["jti"])


async def age_rotation(database_url: str, refresh_token: str, seconds: float = 3600) -> None:
    """Pretend ``refresh_token`` was rotated ``seconds`` earlier than it was (as the database owner)."""
    engine = create_engine(owner_url(database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "update refresh_tokens set rotated_at = rotated_at - make_interval(secs => :seconds)"
                    " where id = cast(:id as uuid) and rotated_at is not null"
                ),
                {"seconds": seconds, "id": token_id(refresh_token)},
            )
    finally:
        await engine.dispose()


def age_rotation_sync(database_url: str, refresh_token: str, seconds: float = 3600) -> None:
    """For browser tests: Playwright's sync API keeps an event loop running in the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, age_rotation(database_url, refresh_token, seconds)).result(timeout=60)
