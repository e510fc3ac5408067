"""Idempotent demo seeding: orgs, users and roles from content/seed.yaml, courses from content/courses/.

Runs as the table owner (the one place that writes across orgs). Courses are upserted by slug, so
re-running after editing a YAML file updates the content in place and keeps learners' enrollments
and progress; an unchanged file (same content hash) is skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import structlog
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.content.loader import load_courses, load_seed_plan
from app.content.schema import Rubric, SeedPass
from app.db.engine import Database, create_engine, owner_url
from app.db.models import (
    Assessment,
    Course,
    Enrollment,
    Item,
    ItemCompetency,
    Membership,
    Organization,
    Submission,
    User,
)
from app.domain.courses.writer import upsert, write_course
from app.domain.credentials.issuance import IssuanceService
from app.domain.grading.graders import CODE_POINTS, GradeResult, grade_multiple_choice
from app.domain.grading.services import grade_row
from app.domain.progress.completion import record_grade_progress
from app.domain.progress.services import append_progress_event, complete_course_if_finished
from app.domain.search.indexer import enqueue_index_course
from app.lib.jobs import create_queue
from app.lib.redis import create_redis
from app.lib.security.passwords import hash_password

log = structlog.get_logger("lyceum.seed")


@dataclass
class SeedReport:
    orgs: list[str] = field(default_factory=list)
    users: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (org, email, roles)
    courses_written: int = 0
    courses_unchanged: int = 0
    password: str = ""
    org_courses: dict[str, list[str]] = field(default_factory=dict)  # org slug -> course slugs
    index_jobs: int = 0  # index_course jobs enqueued (the worker builds the search index)
    passes_recorded: int = 0  # demo users' already-passed assessments graded now (first seed only)
    credentials_issued: int = 0  # demo users' finished courses' credentials issued now (first seed only)

    @property
    def course_count(self) -> int:
        """Distinct courses: an org's copy of a shared course is the same course (seed.yaml lists 4, 3 per org)."""
        return len({slug for slugs in self.org_courses.values() for slug in slugs})

    def summary(self) -> str:
        """One line for people: '2 organisations (demo, acme), 6 users, 4 courses (3 per organisation)'."""
        sizes = {len(slugs) for slugs in self.org_courses.values()}
        per_org = (
            f"{sizes.pop()} per organisation"
            if len(sizes) == 1
            else ", ".join(f"{len(slugs)} in {org}" for org, slugs in self.org_courses.items())
        )
        if not self.courses_written:
            changes = "up to date"
        elif not self.courses_unchanged:
            changes = "loaded"
        else:
            changes = f"{self.courses_written} updated"
        return (
            f"{len(self.orgs)} organisation{'s' if len(self.orgs) != 1 else ''} ({', '.join(self.orgs)}), "
            f"{len(self.users)} users, {self.course_count} courses ({per_org}; {changes})"
        )


async def seed(settings: Settings) -> SeedReport:
    plan = load_seed_plan(settings.content_dir / "seed.yaml")
    courses = {c.slug: c for c in load_courses(settings.content_dir / "courses")}
    report = SeedReport(password=plan.demo_password)
    password_hash = hash_password(plan.demo_password)
    history: list[tuple[UUID, UUID, SeedPass]] = []
    finished: list[tuple[UUID, UUID, str]] = []  # (org, user, course slug): demo users' completed courses
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            for org in plan.orgs:
                org_id = await upsert(
                    conn, Organization, {"slug": org.slug, "name": org.name, "settings": {}}, ["slug"], ["name"]
                )
                report.orgs.append(org.slug)
                for person in org.users:
                    user_id = await upsert(
                        conn,
                        User,
                        {
                            "email": person.email.lower(),
                            "name": person.name,
                            "password_hash": password_hash,
                            "is_active": True,
                        },
                        ["email"],
                        [],
                    )
                    for role in person.roles:
                        await upsert(
                            conn,
                            Membership,
                            {"org_id": org_id, "user_id": user_id, "role": role},
                            ["org_id", "user_id", "role"],
                            [],
                        )
                    report.users.append((org.slug, person.email, list(person.roles)))
                    history.extend((org_id, user_id, done) for done in person.passed)
                    finished.extend((org_id, user_id, slug) for slug in person.completed)
                report.org_courses[org.slug] = list(org.courses)
                for slug in org.courses:
                    written = await _seed_course(conn, org_id, courses[slug], settings.content_dir / "courses")
                    report.courses_written += written
                    report.courses_unchanged += not written
            seeded_courses = (
                await conn.execute(
                    select(Course.org_id, Course.id, Course.content_hash).where(
                        Course.org_id.in_(select(Organization.id).where(Organization.slug.in_(report.orgs)))
                    )
                )
            ).all()
        report.passes_recorded = await _seed_history(engine, history)
        report.credentials_issued = await _seed_completions(engine, settings, finished)
    finally:
        await engine.dispose()
    await _clear_course_cache(settings)
    report.index_jobs = await _enqueue_indexing(settings, seeded_courses)
    # Debug: the commands print report.summary() for people; one line, not two that count differently.
    log.debug(
        "seeded",
        orgs=report.orgs,
        courses=report.course_count,
        course_versions_written=report.courses_written,
        org_courses_unchanged=report.courses_unchanged,
    )
    return report


async def _seed_history(engine: AsyncEngine, history: Sequence[tuple[UUID, UUID, SeedPass]]) -> int:
    """Demo users' already-passed assessments, each once (a submission keyed ``seed:passed:<item>``): the
    enrollment as ``POST /v1/courses/{id}/enrollments`` makes it, a full-marks answer submitted
    ``days_ago`` days back, graded by the multiple-choice grader and recorded by the same
    ``record_grade_progress`` as the grading worker, so progress and spaced review (its cards scheduled
    from the answer's time, hence already due) follow the normal path."""
    recorded = 0
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        for org_id, user_id, done in history:
            recorded += await _seed_pass(session, org_id, user_id, done)
    return recorded


async def _seed_pass(session: AsyncSession, org_id: UUID, user_id: UUID, done: SeedPass) -> bool:
    course_slug, item_slug = done.assessment.split("/", 1)
    found = (
        await session.execute(
            select(Assessment, Course)
            .join(Item, Item.id == Assessment.item_id)
            .join(Course, Course.id == Assessment.course_id)
            .where(Course.org_id == org_id, Course.slug == course_slug, Item.slug == item_slug)
        )
    ).one_or_none()
    if found is None or found[0].kind != "multiple_choice":
        log.warning("seed_pass_skipped", assessment=done.assessment, reason="no such multiple-choice assessment")
        return False
    assessment, course = found
    await _demo_enrollment(session, org_id, user_id, course)
    choices = [int(q["answer"]) for q in assessment.spec.get("questions", [])]
    answered_at = datetime.now(UTC) - timedelta(days=done.days_ago)
    key = f"seed:passed:{course_slug}/{item_slug}"
    return await _graded_attempt(session, org_id, user_id, assessment, choices, key, answered_at)


async def _demo_enrollment(session: AsyncSession, org_id: UUID, user_id: UUID, course: Course) -> Enrollment:
    """The demo user's enrolment in ``course``, created (with its ``enrolled`` event) when missing."""
    created = await session.scalar(
        insert(Enrollment)
        .values(org_id=org_id, user_id=user_id, course_id=course.id, status="active")
        .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
        .returning(Enrollment.id)
    )
    enrollment = await session.scalar(
        select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.course_id == course.id)
    )
    assert enrollment is not None
    if created is not None:
        await append_progress_event(
            session, enrollment, "enrolled", {"course_slug": course.slug}, f"enrolled:{enrollment.id}"
        )
    return enrollment


async def _graded_attempt(
    session: AsyncSession,
    org_id: UUID,
    user_id: UUID,
    assessment: Assessment,
    choices: list[int],
    key: str,
    answered_at: datetime | None = None,
) -> bool:
    """A demo multiple-choice attempt graded by the answer key and recorded through the normal path
    (``record_grade_progress``: progress events, mastery, review cards); ``key`` (the submission's
    idempotency key) makes it happen once. False when it already had."""
    if await session.scalar(
        select(Submission.id).where(Submission.user_id == user_id, Submission.idempotency_key == key)
    ):
        return False
    stamps = {"created_at": answered_at, "updated_at": answered_at} if answered_at is not None else {}
    submission = Submission(
        org_id=org_id,
        assessment_id=assessment.id,
        user_id=user_id,
        status="graded",
        answer={"choices": choices},
        idempotency_key=key,
        **stamps,
    )
    session.add(submission)
    await session.flush()
    grade = grade_row(submission, assessment, grade_multiple_choice(dict(assessment.spec), choices), at=answered_at)
    session.add(grade)
    await session.flush()
    await record_grade_progress(session, submission, assessment, grade)
    return True


async def _seed_completions(engine: AsyncEngine, settings: Settings, finished: Sequence[tuple[UUID, UUID, str]]) -> int:
    """Demo users' finished courses: every lesson and exercise completed, every assessment passed with full
    marks (multiple choice by the answer key, the others as an instructor's full-marks grade), each keyed
    so it happens once; the course completes through ``complete_course_if_finished`` as it would live.
    Then the credential is issued by the same ``IssuanceService`` as the worker's ``issue_credential``
    (no worker needed for the demo to show one). Returns the credentials issued now."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    enrollments: list[tuple[UUID, UUID]] = []
    async with sessions() as session, session.begin():
        for org_id, user_id, slug in finished:
            enrollment = await _complete_course(session, org_id, user_id, slug)
            if enrollment is not None:
                enrollments.append((org_id, enrollment))
    issuer = IssuanceService(Database(engine), settings)
    issued = 0
    for org_id, enrollment_id in enrollments:
        issued += (await issuer.issue(org_id, enrollment_id)).outcome == "issued"
    return issued


async def _complete_course(session: AsyncSession, org_id: UUID, user_id: UUID, slug: str) -> UUID | None:
    course = await session.scalar(select(Course).where(Course.org_id == org_id, Course.slug == slug))
    if course is None:
        log.warning("seed_completion_skipped", course=slug, reason="no such course")
        return None
    enrollment = await _demo_enrollment(session, org_id, user_id, course)
    if enrollment.completed_at is not None:
        return enrollment.id
    items = list(await session.scalars(select(Item).where(Item.course_id == course.id).order_by(Item.position)))
    for item in items:
        if item.kind != "assessment":
            skills = sorted(
                await session.scalars(select(ItemCompetency.competency_id).where(ItemCompetency.item_id == item.id))
            )
            payload = {
                "item_id": str(item.id),
                "item_slug": item.slug,
                "kind": item.kind,
                "competencies": [str(c) for c in skills],
            }
            key = f"item.completed:{enrollment.id}:{item.id}"
            await append_progress_event(session, enrollment, "item.completed", payload, key)
            continue
        assessment = await session.scalar(select(Assessment).where(Assessment.item_id == item.id))
        assert assessment is not None
        key = f"seed:completed:{slug}/{item.slug}"
        if assessment.kind == "multiple_choice":
            choices = [int(q["answer"]) for q in assessment.spec.get("questions", [])]
            await _graded_attempt(session, org_id, user_id, assessment, choices, key)
        else:
            await _full_marks(session, org_id, user_id, assessment, key)
    await complete_course_if_finished(session, enrollment, None)
    return enrollment.id


async def _full_marks(session: AsyncSession, org_id: UUID, user_id: UUID, assessment: Assessment, key: str) -> None:
    """A short-answer or code assessment passed with an instructor's full-marks grade (its exemplar answer or
    reference solution as the learner's), recorded by ``record_grade_progress`` like a reviewer's decision."""
    if await session.scalar(
        select(Submission.id).where(Submission.user_id == user_id, Submission.idempotency_key == key)
    ):
        return
    spec = dict(assessment.spec)
    if assessment.kind == "code":
        answer, points = {"code": str(spec.get("reference_solution") or spec.get("starter_code", ""))}, CODE_POINTS
    else:
        rubric = msgspec.convert(spec["rubric"], Rubric)
        answer, points = {"text": (rubric.exemplars or ["(demo answer)"])[0]}, rubric.max_points()
    submission = Submission(
        org_id=org_id,
        assessment_id=assessment.id,
        user_id=user_id,
        status="graded",
        answer=answer,
        idempotency_key=key,
    )
    session.add(submission)
    await session.flush()
    result = GradeResult(points, points, 1.0, "Full marks: a thorough answer.", "human")
    grade = grade_row(submission, assessment, result)
    session.add(grade)
    await session.flush()
    await record_grade_progress(session, submission, assessment, grade)


async def _enqueue_indexing(settings: Settings, courses: Sequence[Any]) -> int:
    """One index_course job per course version (the key refuses a duplicate while one is queued); the
    worker runs them, so a fresh `make dev` has a search index without setup. A job of an unchanged
    version finds nothing to write."""
    queue = create_queue(settings)
    queued = 0
    try:
        for org_id, course_id, content_hash in courses:
            queued += await enqueue_index_course(queue, org_id, course_id, content_hash)
    except (RedisError, OSError) as exc:  # search still answers from full text; `lyceum index rebuild` repairs
        log.warning("index_enqueue_failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(RedisError, OSError):
            await queue.disconnect()
    return queued


async def _clear_course_cache(settings: Settings) -> None:
    redis = create_redis(settings.redis_url)
    try:
        async for key in redis.scan_iter(match=f"{settings.redis_key_prefix}cache:course:*"):
            await redis.delete(key)
    finally:
        await redis.aclose()


async def _seed_course(conn: AsyncConnection, org_id: UUID, course: Any, course_dir: Path) -> bool:
    """One course file's live rows (the course writer the browser's publish uses too); False when unchanged."""
    return (await write_course(conn, org_id, course, course_dir)).written


async def seed_demo_activity(settings: Settings) -> int:
    """Demo learners' history from ``content/seed.yaml`` (``activity:``), written through the same paths as
    the API and the grading worker (progress events appended by ``append_progress_event``, attempts graded by
    the answer key and recorded by ``record_grade_progress``), so mastery and gates follow as they would.
    ``lyceum seed`` and ``lyceum up`` run it after ``seed``; the test suite does not (its learners start
    empty, but for the ``passed:`` assessments ``seed`` records). Idempotent: every step is keyed. Returns
    the histories that wrote anything."""

    plan = load_seed_plan(settings.content_dir / "seed.yaml")
    written = 0
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.connect() as conn, AsyncSession(bind=conn, expire_on_commit=False) as session:
            for org in plan.orgs:
                for activity in org.activity:
                    written += await _replay(session, org.slug, activity)
                    await session.commit()
    finally:
        await engine.dispose()
    return written


async def _replay(session: AsyncSession, org_slug: str, activity: Any) -> int:
    """One ``activity:`` entry; every step is keyed (the enrolment, each completion event, each attempt's
    submission), so a second seed writes nothing and a course the user was already enrolled in (by a
    ``passed:`` entry) gets the rest of its history. Returns 1 when anything was written."""
    row = (
        await session.execute(
            select(Organization.id, Course, User.id)
            .join(Course, Course.org_id == Organization.id)
            .join(User, User.email == activity.learner.lower())
            .where(Organization.slug == org_slug, Course.slug == activity.course)
        )
    ).first()
    if row is None:
        raise LookupError(f"seed activity: no course {activity.course} or learner {activity.learner} in {org_slug}")
    org_id, course, user_id = row
    enrollment = await _demo_enrollment(session, org_id, user_id, course)
    items = {i.slug: i for i in await session.scalars(select(Item).where(Item.course_id == course.id))}
    wrote = False
    for slug in activity.completed:
        item = items[slug]
        skills = sorted(
            await session.scalars(select(ItemCompetency.competency_id).where(ItemCompetency.item_id == item.id))
        )
        payload = {
            "item_id": str(item.id),
            "item_slug": slug,
            "kind": item.kind,
            "competencies": [str(c) for c in skills],
        }
        _, created = await append_progress_event(
            session, enrollment, "item.completed", payload, f"item.completed:{enrollment.id}:{item.id}"
        )
        wrote |= created
    for number, attempt in enumerate(activity.attempts, start=1):
        assessment = await session.scalar(select(Assessment).where(Assessment.item_id == items[attempt.item].id))
        assert assessment is not None
        questions = assessment.spec["questions"]
        choices = [
            q["answer"] if n < attempt.right else (q["answer"] + 1) % len(q["options"]) for n, q in enumerate(questions)
        ]
        key = f"seed:activity:{activity.course}/{attempt.item}:{number}"
        wrote |= await _graded_attempt(session, org_id, user_id, assessment, choices, key)
    return int(wrote)
