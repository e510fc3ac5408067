"""Fixtures of the data-rights tests (this directory only): a fresh organization per module (the org admin
tests' builder), and tutor turns written as the tutor writes them: a row in ai_interactions and its text in
the content-addressed object store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db.models import AIInteraction, AISession
from app.domain.components import Components
from app.lib.objectstore import LocalObjectStore
from app.server.components import build_components, close_components
from tests.integration.orgadmin.conftest import World, build_world


@pytest.fixture(scope="module")
async def world(settings: Settings, seeded: Any) -> AsyncIterator[World]:
    built = await build_world(settings)
    yield built
    await built.engine.dispose()


@pytest.fixture(scope="module")
async def components(settings: Settings, seeded: Any) -> AsyncIterator[Components]:
    """The worker's components, built on this test loop (the app's own live on the test client's loop)."""
    built = build_components(settings)
    yield built
    await close_components(built)


@pytest.fixture(scope="module")
def store(settings: Settings) -> LocalObjectStore:
    return LocalObjectStore(settings.objects_path)


@dataclass(frozen=True)
class Place:
    """Where turns are written: an org, one of its courses, and the owner engine."""

    engine: AsyncEngine
    org_id: uuid.UUID
    course_id: uuid.UUID


async def demo_org_id(world: World) -> uuid.UUID:
    """The seeded ``demo`` org: a second org for the people these tests make members of two."""
    async with world.engine.connect() as conn:
        org_id = await conn.scalar(text("select id from organizations where slug = 'demo'"))
    assert org_id is not None
    return uuid.UUID(str(org_id))


def place_of(world: World) -> Place:
    return Place(world.engine, world.org_id, world.course_id)


async def new_chat(where: World | Place, user_id: uuid.UUID) -> uuid.UUID:
    place = where if isinstance(where, Place) else place_of(where)
    session_id = uuid.uuid4()
    async with place.engine.begin() as conn:
        await conn.execute(
            insert(AISession).values(id=session_id, org_id=place.org_id, user_id=user_id, course_id=place.course_id)
        )
    return session_id


async def add_turn(
    where: World | Place,
    store: LocalObjectStore,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    text: str,
    *,
    days_ago: float = 0,
    purpose: str = "tutor",
) -> tuple[uuid.UUID, str]:
    """A completed turn ``days_ago`` old whose stored text is ``text``; returns (row id, object key)."""
    place = where if isinstance(where, Place) else place_of(where)
    stored = await store.put(
        msgspec.json.encode({"user": text, "reply": f"reply to {text}"}), namespace=f"tutor/{place.org_id}"
    )
    at = datetime.now(UTC) - timedelta(days=days_ago)
    row_id = uuid.uuid4()
    async with place.engine.begin() as conn:
        await conn.execute(
            insert(AIInteraction).values(
                id=row_id,
                org_id=place.org_id,
                session_id=session_id,
                user_id=user_id,
                course_id=place.course_id,
                purpose=purpose,
                content_hash=stored.content_hash,
                object_key=stored.key,
                model="claude-test",
                input_tokens=120,
                output_tokens=80,
                guardrail_outcomes=[
                    {"name": "pii", "action": "pass", "score": 0.0, "detail": ""}
                ],  # the shape turns.py writes
                created_at=at,
                updated_at=at,
            )
        )
    return row_id, stored.key
