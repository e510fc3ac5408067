"""Fixtures of the org admin tests (this directory only): a fresh organization per module, built through the
database owner (no API creates orgs), so counting admins, unpublishing a course or filling it with learners
never touches the demo org other modules rely on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db.engine import create_engine, owner_url
from app.db.models import (
    Assessment,
    Course,
    CourseModule,
    Enrollment,
    Grade,
    Item,
    Membership,
    Organization,
    ProgressEvent,
    Submission,
    User,
)
from app.lib.security.passwords import hash_password
from tests.support.stack import auth_headers, login

Client = AsyncTestClient[Litestar]
PASSWORD = "orgadmin-pass-123"
_HASH = hash_password(PASSWORD)


@dataclass
class World:
    """One test organization: ``admin`` (its only admin at first) and a course of ``items`` items."""

    org_id: uuid.UUID
    slug: str
    admin: str  # email
    course_id: uuid.UUID
    items: list[uuid.UUID]
    assessment_id: uuid.UUID
    engine: AsyncEngine
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def email(self, who: str) -> str:
        return f"{who}-{self.tag}@{self.slug}.test"

    async def add_user(self, who: str, *roles: str, name: str | None = None, active: bool = True) -> uuid.UUID:
        user_id = uuid.uuid4()
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(User).values(
                    id=user_id, email=self.email(who), name=name or who.title(), password_hash=_HASH, is_active=active
                )
            )
            for role in roles:
                await conn.execute(
                    insert(Membership).values(id=uuid.uuid4(), org_id=self.org_id, user_id=user_id, role=role)
                )
        return user_id

    async def enroll(
        self,
        user_id: uuid.UUID,
        *,
        days_ago: float = 0,
        done: int = 0,
        failed: int = 0,
        status: str = "active",
    ) -> uuid.UUID:
        """An enrolment ``days_ago`` old (and its activity as old), with ``done`` items completed in the ledger
        and ``failed`` graded submissions that did not pass."""
        at = datetime.now(UTC) - timedelta(days=days_ago)
        enrollment_id = uuid.uuid4()
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(Enrollment).values(
                    id=enrollment_id,
                    org_id=self.org_id,
                    user_id=user_id,
                    course_id=self.course_id,
                    status=status,
                    created_at=at,
                    updated_at=at,
                    completed_at=at if status == "completed" else None,
                )
            )
            for version, item_id in enumerate(self.items[:done], start=1):
                await conn.execute(
                    insert(ProgressEvent).values(
                        id=uuid.uuid4(),
                        org_id=self.org_id,
                        stream_id=enrollment_id,
                        version=version,
                        type="item.completed",
                        user_id=user_id,
                        course_id=self.course_id,
                        payload={"item_id": str(item_id)},
                        idempotency_key=f"{enrollment_id}:{version}",
                        created_at=at,
                        updated_at=at,
                    )
                )
            for _ in range(failed):
                submission_id = uuid.uuid4()
                await conn.execute(
                    insert(Submission).values(
                        id=submission_id,
                        org_id=self.org_id,
                        assessment_id=self.assessment_id,
                        user_id=user_id,
                        status="graded",
                        answer={},
                        created_at=at,
                        updated_at=at,
                    )
                )
                await conn.execute(
                    insert(Grade).values(
                        id=uuid.uuid4(),
                        org_id=self.org_id,
                        submission_id=submission_id,
                        score=1,
                        max_score=10,
                        passed=False,
                        graded_by="auto",
                        created_at=at,
                        updated_at=at,
                    )
                )
        return enrollment_id


async def build_world(settings: Settings, items: int = 4) -> World:
    engine = create_engine(owner_url(settings.database_url), pool_size=2)
    tag = uuid.uuid4().hex[:8]
    slug = f"oa-{tag}"
    org_id, course_id, module_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    item_ids = [uuid.uuid4() for _ in range(items)]
    assessment_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(insert(Organization).values(id=org_id, slug=slug, name=f"Org {tag}", settings={}))
        await conn.execute(
            insert(Course).values(
                id=course_id, org_id=org_id, slug="admin-course", title="Admin Course", is_published=True
            )
        )
        await conn.execute(
            insert(CourseModule).values(
                id=module_id, org_id=org_id, course_id=course_id, slug="m1", title="M1", position=0
            )
        )
        for position, item_id in enumerate(item_ids):
            await conn.execute(
                insert(Item).values(
                    id=item_id,
                    org_id=org_id,
                    course_id=course_id,
                    module_id=module_id,
                    slug=f"item-{position}",
                    kind="assessment" if position == items - 1 else "lesson",
                    title=f"Item {position}",
                    bloom_level="understand",
                    position=position,
                )
            )
        await conn.execute(
            insert(Assessment).values(
                id=assessment_id, org_id=org_id, item_id=item_ids[-1], course_id=course_id, kind="short_answer", spec={}
            )
        )
    world = World(org_id, slug, "", course_id, item_ids, assessment_id, engine, tag=tag)
    await world.add_user("admin", "admin", name="First Admin")
    world.admin = world.email("admin")
    return world


@pytest.fixture(scope="module")
async def world(settings: Settings, seeded: Any) -> AsyncIterator[World]:
    built = await build_world(settings)
    yield built
    await built.engine.dispose()


async def sign_in(client: Client, email: str, org: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await login(client, email, org, password))['access_token']}"}


@pytest.fixture
async def admin(client: Client, world: World) -> dict[str, str]:
    return await sign_in(client, world.admin, world.slug)


@pytest.fixture(scope="module")
async def demo_admin(client: Client) -> dict[str, str]:
    return await auth_headers(client, "admin@demo.test", "demo")
