"""Just-in-time provisioning (app/domain/lti/provisioning.py) called directly, as launches and roster syncs
do: one user under concurrency, roles following the LMS, enrolments withdrawn and restored, targets kept."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import Enrollment, LtiPlatform
from app.domain.lti.provisioning import (
    LtiPerson,
    ProvisionedUser,
    ensure_context,
    ensure_member,
    ensure_resource_link,
    ensure_user,
)
from tests.integration.lti.launch_helpers import an_item, lti_user_rows, org_id, roles_of
from tests.support.lti.platform import INSTRUCTOR, LEARNER, TestPlatform, insert_registration


async def registration(settings: Settings) -> tuple[TestPlatform, LtiPlatform, Database]:
    platform = TestPlatform(tool_url=settings.base_url)
    await insert_registration(settings, await org_id(settings, "demo"), platform)
    db = Database.from_settings(settings)
    assert platform.org_id is not None
    async with db.transaction(platform.org_id) as session:
        row = await session.get(LtiPlatform, platform.id)
        assert row is not None
        session.expunge(row)
    return platform, row, db


async def test_concurrent_ensure_user_creates_one_user(settings: Settings, seeded: object) -> None:
    platform, row, db = await registration(settings)
    person = LtiPerson(sub="concurrent-sub", name="Twin Tabs", roles=(LEARNER,))

    async def provision() -> ProvisionedUser:
        async with db.transaction(row.org_id) as session:
            return await ensure_user(session, await session.merge(row, load=False), person)

    try:
        results = await asyncio.gather(*(provision() for _ in range(8)))
    finally:
        await db.dispose()
    assert len({r.user_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len(await lti_user_rows(settings, platform, "concurrent-sub")) == 1
    assert await roles_of(settings, results[0].user_id) == [("demo", "learner")]


async def test_membership_withdraws_and_restores_the_enrolment(settings: Settings, seeded: object) -> None:
    _, row, db = await registration(settings)
    item_id, course_id = await an_item(settings, "demo")
    try:
        async with db.transaction(row.org_id) as session:
            platform = await session.merge(row, load=False)
            learner = await ensure_user(session, platform, LtiPerson(sub="member-1", roles=(LEARNER,)))
            context = await ensure_context(session, platform, f"ctx-{uuid.uuid4().hex[:6]}", title="Course")
            link = await ensure_resource_link(
                session, platform, "link-a", context=context, course_id=course_id, item_id=item_id
            )
            assert context.course_id == course_id  # the first linked placement ties the LMS course
            await ensure_member(session, context, learner, (LEARNER,), active=True)
            # A later placement naming another target never moves the stored one.
            again = await ensure_resource_link(session, platform, "link-a", context=context, course_id=uuid.uuid4())
            assert again.id == link.id
            assert again.course_id == course_id
            assert again.item_id == item_id

        async def status() -> str | None:
            async with db.transaction(row.org_id) as session:
                return await session.scalar(
                    select(Enrollment.status).where(
                        Enrollment.user_id == learner.user_id, Enrollment.course_id == course_id
                    )
                )

        assert await status() == "active"
        async with db.transaction(row.org_id) as session:
            await ensure_member(session, context, learner, (LEARNER,), active=False)
        assert await status() == "withdrawn"  # never deleted: progress stays
        async with db.transaction(row.org_id) as session:
            await ensure_member(session, context, learner, (LEARNER,), active=True)
        assert await status() == "active"
        # An instructor in the same context is recorded as a member but not enrolled.
        async with db.transaction(row.org_id) as session:
            platform = await session.merge(row, load=False)
            teacher = await ensure_user(session, platform, LtiPerson(sub="teacher-1", roles=(INSTRUCTOR,)))
            await ensure_member(session, context, teacher, (INSTRUCTOR,), active=True)
            enrolled = await session.scalar(select(Enrollment.id).where(Enrollment.user_id == teacher.user_id))
        assert enrolled is None
        assert teacher.role == "instructor"
    finally:
        await db.dispose()
