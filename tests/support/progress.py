"""Open a course's assessments to a learner the way a learner who did the work finds them (issue 12 made a
submission to a prerequisite-locked or competency-gated assessment a 409): lessons and exercises completed
and the assessments other items require passed, as progress events appended by the app's own
``append_progress_event`` (so mastery and gates follow). For tests that exercise grading, not pathways."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import create_engine, owner_url
from app.db.models import Course, Enrollment, Item, ItemCompetency, ItemPrerequisite, User
from tests.support.threads import run_in_thread


async def open_assessments_of(settings: Settings | str, email: str, course_slug: str = "backend-foundations") -> None:
    """``settings``: the test's settings, or a database URL (as the table owner)."""
    from app.domain.progress.services import append_progress_event

    database_url = settings if isinstance(settings, str) else settings.database_url
    engine = create_engine(owner_url(database_url), pool_size=1)
    try:
        async with engine.connect() as conn, AsyncSession(bind=conn, expire_on_commit=False) as session:
            enrollment = await session.scalar(
                select(Enrollment)
                .join(User, User.id == Enrollment.user_id)
                .join(Course, Course.id == Enrollment.course_id)
                .where(User.email == email.lower(), Course.slug == course_slug)
            )
            assert enrollment is not None, f"{email} is not enrolled in {course_slug}"
            items = list(
                await session.scalars(
                    select(Item).where(Item.course_id == enrollment.course_id).order_by(Item.position)
                )
            )
            ids = [i.id for i in items]
            required = set(
                await session.scalars(select(ItemPrerequisite.prerequisite_id).where(ItemPrerequisite.item_id.in_(ids)))
            )
            skills: dict[object, list[str]] = {}
            for item_id, competency_id in await session.execute(
                select(ItemCompetency.item_id, ItemCompetency.competency_id).where(ItemCompetency.item_id.in_(ids))
            ):
                skills.setdefault(item_id, []).append(str(competency_id))
            for item in items:
                base = {"item_id": str(item.id), "item_slug": item.slug}
                if item.kind != "assessment":
                    payload = {**base, "kind": item.kind, "competencies": sorted(skills.get(item.id, []))}
                    key = f"item.completed:{enrollment.id}:{item.id}"
                    await append_progress_event(session, enrollment, "item.completed", payload, key)
                elif item.id in required:
                    key = f"passed:{enrollment.id}:{item.id}"
                    await append_progress_event(session, enrollment, "assessment.passed", base, key)
            await session.commit()
    finally:
        await engine.dispose()


def open_assessments_sync(settings: Settings, email: str, course_slug: str = "backend-foundations") -> None:
    """The same from synchronous (Playwright) tests: run on a thread of its own, with its own event loop."""
    run_in_thread(open_assessments_of(settings, email, course_slug))
