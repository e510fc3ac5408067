"""Progress as an event-sourced stream per enrollment (stream id = enrollment id).

Writers append events under a row lock on the enrollment, so versions stay gap-free and ordered even when
two requests (or a request and a grading job) complete items at the same moment. Readers fold the stream
into the set of completed items and, with the course's prerequisite graph, what is unlocked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from saq import Queue
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import CourseVersion, Enrollment, Item, ItemPrerequisite, ProgressEvent
from app.domain.audit.services import record_audit
from app.domain.base import TenantService
from app.domain.courses.schemas import CourseDetail, ItemOutline
from app.domain.courses.services import CourseService
from app.domain.credentials.enqueue import enqueue_credentials
from app.domain.mastery.gates import MissingCompetency, gate_conflict, unmet_requirements
from app.domain.mastery.projector import is_evidence, project_event
from app.domain.progress.ledger import COMPLETION_EVENTS, completed_items
from app.domain.progress.schemas import CompletionOut, CourseProgress, ItemProgress
from app.domain.webhooks.outbox import record_event
from app.lib.errors import Conflict, NotFound
from app.lib.event_payloads import CourseCompleted, EnrollmentCreated, EventPayload, ItemCompleted

SELF_COMPLETABLE_KINDS = ("lesson", "exercise")
# ``session.info`` key: the (org, enrollment) pairs a transaction completed, for its caller to act on after
# the commit (queue the credential: app/domain/credentials/enqueue.py), never before it.
_COMPLETED = "lyceum.completed_enrollments"


def completed_enrollments(session: AsyncSession) -> list[tuple[UUID, UUID]]:
    """(org id, enrollment id) of every enrollment ``complete_course_if_finished`` completed in this
    session's transaction. Read it inside the transaction; act on it once the transaction has committed."""
    return list(session.info.get(_COMPLETED, ()))


async def append_progress_event(
    session: AsyncSession,
    enrollment: Enrollment,
    event_type: str,
    payload: Mapping[str, Any],
    idempotency_key: str,
) -> tuple[ProgressEvent, bool]:
    """Append one event to the enrollment's stream; the same idempotency key returns the first event.

    Returns (event, created). The caller holds the transaction; the enrollment row is locked here so
    concurrent appends to one stream serialise instead of colliding on (stream_id, version)."""
    [appended] = await append_progress_events(session, enrollment, [(event_type, payload, idempotency_key)])
    return appended


async def append_progress_events(
    session: AsyncSession,
    enrollment: Enrollment,
    events: Sequence[tuple[str, Mapping[str, Any], str]],
) -> list[tuple[ProgressEvent, bool]]:
    """Append several events (type, payload, idempotency key) to the stream in order, as one write: one
    lock, one look-up of the keys, one version read, one insert, and the mastery projection refolded once.
    A key already in the stream returns its first event (created False) and takes no version."""
    await session.execute(select(Enrollment.id).where(Enrollment.id == enrollment.id).with_for_update())
    keys = [key for _, _, key in events]
    existing = {
        e.idempotency_key: e
        for e in await session.scalars(
            select(ProgressEvent).where(
                ProgressEvent.org_id == enrollment.org_id, ProgressEvent.idempotency_key.in_(keys)
            )
        )
    }
    version = int(
        await session.scalar(
            select(func.coalesce(func.max(ProgressEvent.version), 0)).where(ProgressEvent.stream_id == enrollment.id)
        )
        or 0
    )
    appended: list[tuple[ProgressEvent, bool]] = []
    for event_type, payload, key in events:
        if key in existing:
            appended.append((existing[key], False))
            continue
        version += 1
        event = ProgressEvent(
            org_id=enrollment.org_id,
            stream_id=enrollment.id,
            version=version,
            type=event_type,
            user_id=enrollment.user_id,
            course_id=enrollment.course_id,
            payload=dict(payload),
            idempotency_key=key,
        )
        session.add(event)
        existing[key] = event
        appended.append((event, True))
    created = [event for event, new in appended if new]
    if created:
        await session.flush()
        # The mastery projection moves in the same transaction as the ledger (never behind, never ahead). It
        # refolds the whole stream on evidence, so one refold after the last evidence covers the batch.
        evidence = [e for e in created if is_evidence(e.type, e.payload)]
        await project_event(session, enrollment, evidence[-1] if evidence else created[-1])
        for event in created:  # webhooks: in the same transaction as the ledger (the outbox)
            announced = _webhook_payload(enrollment, event)
            if announced is not None:
                await record_event(session, enrollment.org_id, announced, occurred_at=event.created_at)
    return appended


def _webhook_payload(enrollment: Enrollment, event: ProgressEvent) -> EventPayload | None:
    """The webhook event a new ledger row announces (``assessment.graded`` is recorded by grading itself,
    with the grade: app/domain/progress/completion.py)."""
    if event.type == "enrolled":
        return EnrollmentCreated(
            enrollment_id=enrollment.id, course_id=enrollment.course_id, user_id=enrollment.user_id
        )
    if event.type in COMPLETION_EVENTS and isinstance(event.payload.get("item_id"), str):
        return ItemCompleted(
            enrollment_id=enrollment.id,
            course_id=enrollment.course_id,
            item_id=UUID(event.payload["item_id"]),
            user_id=enrollment.user_id,
            kind="assessment" if event.type == "assessment.passed" else str(event.payload.get("kind", "")),
        )
    if event.type == "course.completed":
        return CourseCompleted(
            enrollment_id=enrollment.id,
            course_id=enrollment.course_id,
            user_id=enrollment.user_id,
            completed_at=event.created_at,
        )
    return None


async def complete_course_if_finished(
    session: AsyncSession, enrollment: Enrollment, actor_id: UUID | None, request_id: str = ""
) -> bool:
    """Complete the enrollment once every item of its course is done (a learner's last lesson, a passing
    grade, a reviewer's override that passes). Its time is the ``course.completed`` event's, which is what
    ``lyceum projections rebuild`` recomputes it from. Returns True when it completed now."""
    if enrollment.completed_at is not None:
        return False
    course_items = select(Item.id).where(Item.course_id == enrollment.course_id)
    # A learner on an older published version finishes when its items are done (those a later publish kept:
    # the removed ones are gone); the version's row lists them. None (no row, e.g. a seeded course): all live.
    version_slugs = (
        await session.scalar(
            select(CourseVersion.item_slugs).where(
                CourseVersion.course_id == enrollment.course_id, CourseVersion.version == enrollment.course_version
            )
        )
        if enrollment.course_version is not None
        else None
    )
    if version_slugs is not None:
        course_items = course_items.where(Item.slug.in_(version_slugs))
    items = set(await session.scalars(course_items))
    events = await session.scalars(
        select(ProgressEvent).where(ProgressEvent.stream_id == enrollment.id).order_by(ProgressEvent.version)
    )
    if not items or not items <= completed_items(events):
        return False
    event, _ = await append_progress_event(
        session, enrollment, "course.completed", {}, f"course.completed:{enrollment.id}"
    )
    enrollment.status, enrollment.completed_at = "completed", event.created_at
    session.info.setdefault(_COMPLETED, []).append((enrollment.org_id, enrollment.id))
    record_audit(
        session,
        org_id=enrollment.org_id,
        actor_id=actor_id,
        action="enrollment.completed",
        entity_type="enrollment",
        entity_id=enrollment.id,
        after={"status": "completed"},
        request_id=request_id,
    )
    return True


def _ordered_items(outline: CourseDetail) -> list[ItemOutline]:
    return [item for module in outline.modules for item in module.items]


def gated_items(outline: CourseDetail) -> list[UUID]:
    """The items of the outline with competency gates (what ``unmet_requirements`` needs to look at)."""
    return [item.id for item in _ordered_items(outline) if item.requires]


def fold_progress(
    outline: CourseDetail,
    enrollment: Enrollment | None,
    done: set[UUID],
    gates: Mapping[UUID, list[MissingCompetency]] | None = None,
) -> CourseProgress:
    """``gates``: the unmet competency gates per item (``unmet_requirements``); a gated item is locked."""
    items = _ordered_items(outline)
    states: list[ItemProgress] = []
    next_item: UUID | None = None
    for item in items:
        missing = [] if item.id in done else [p for p in item.prerequisites if p not in done]
        gated = [] if item.id in done or gates is None else gates.get(item.id, [])
        state = "done" if item.id in done else ("locked" if missing or gated else "unlocked")
        if state == "unlocked" and next_item is None:
            next_item = item.id
        states.append(
            ItemProgress(item_id=item.id, state=state, missing_prerequisites=missing, missing_competencies=gated)
        )
    finished = sum(1 for item in items if item.id in done)
    return CourseProgress(
        course_id=outline.id,
        enrollment_id=enrollment.id if enrollment else None,
        enrolled=enrollment is not None,
        total_items=len(items),
        completed_items=finished,
        percent=(finished * 100) // len(items) if items else 0,
        items=states,
        next_item_id=next_item,
        completed_at=enrollment.completed_at if enrollment else None,
    )


async def item_lock(session: AsyncSession, enrollment_id: UUID, user_id: UUID, item_id: UUID) -> Conflict | None:
    """Why the item is closed to this learner, as the 409 to answer (None when open): unfinished
    prerequisites first, then unmet competency gates. A submission to an assessment asks here."""
    prerequisites = list(
        await session.scalars(select(ItemPrerequisite.prerequisite_id).where(ItemPrerequisite.item_id == item_id))
    )
    if prerequisites:
        done = completed_items(
            await session.scalars(select(ProgressEvent).where(ProgressEvent.stream_id == enrollment_id))
        )
        missing = sorted(str(p) for p in prerequisites if p not in done)
        if missing:
            return Conflict(
                "This item is locked: finish its prerequisites first",
                extra={"code": "locked", "missing_prerequisites": missing},
            )
    gates = await unmet_requirements(session, user_id, [item_id])
    return gate_conflict(gates[item_id]) if item_id in gates else None


@dataclass(eq=False, repr=False, kw_only=True)
class ProgressService(TenantService):
    """The caller's streams; course outlines through the catalogue's one interface, ``CourseService.detail``.
    A course the learner finishes gets its credential job on ``queue`` once the completion has committed."""

    courses: CourseService
    queue: Queue
    settings: Settings

    async def _enrollment(self, session: AsyncSession, course_id: UUID) -> Enrollment | None:
        return await session.scalar(
            select(Enrollment).where(Enrollment.course_id == course_id, Enrollment.user_id == self.principal.user_id)
        )

    @staticmethod
    async def _stream(session: AsyncSession, enrollment: Enrollment) -> list[ProgressEvent]:
        return list(
            await session.scalars(
                select(ProgressEvent).where(ProgressEvent.stream_id == enrollment.id).order_by(ProgressEvent.version)
            )
        )

    async def course_progress(self, course_id: UUID) -> CourseProgress:
        outline = await self.courses.detail(course_id)  # 404 for unknown and other-org courses
        async with self._tx() as session:
            enrollment = await self._enrollment(session, course_id)
            done = completed_items(await self._stream(session, enrollment)) if enrollment else set()
            gates = await unmet_requirements(session, self.principal.user_id, gated_items(outline))
            return fold_progress(outline, enrollment, done, gates)

    async def complete_item(self, course_id: UUID, item_id: UUID) -> tuple[CompletionOut, bool]:
        """Mark a lesson or exercise done. Returns (result, created); completing again is a no-op."""
        outline = await self.courses.detail(course_id)
        item = next((i for i in _ordered_items(outline) if i.id == item_id), None)
        if item is None:
            raise NotFound("No such item in this course")
        async with self._tx() as session:
            enrollment = await self._enrollment(session, course_id)
            if enrollment is None:
                raise Conflict("Enroll in the course before completing its items", extra={"code": "not_enrolled"})
            done = completed_items(await self._stream(session, enrollment))
            if item.id not in done:
                self._check_completable(item, done)
                gates = await unmet_requirements(session, self.principal.user_id, gated_items(outline))
                if item.id in gates:
                    raise gate_conflict(gates[item.id])
            event, created = await append_progress_event(
                session,
                enrollment,
                "item.completed",
                # The competencies travel with the event: mastery evidence for an exercise (the fold reads them).
                {
                    "item_id": str(item.id),
                    "item_slug": item.slug,
                    "kind": item.kind,
                    "competencies": [str(c) for c in sorted(item.competencies)],
                },
                f"item.completed:{enrollment.id}:{item.id}",
            )
            done.add(item.id)
            # Read after the append: an exercise's evidence may just have opened a gate.
            gates = await unmet_requirements(session, self.principal.user_id, gated_items(outline))
            progress = fold_progress(outline, enrollment, done, gates)
            if created and progress.completed_items == progress.total_items and enrollment.completed_at is None:
                await complete_course_if_finished(session, enrollment, self.principal.user_id, self.request_id)
                progress = fold_progress(outline, enrollment, done, gates)
            completed = completed_enrollments(session)
            out = CompletionOut(item_id=item.id, event_version=event.version, progress=progress)
        await enqueue_credentials(self.queue, self.settings, completed)  # committed: now it is durable
        return out, created

    @staticmethod
    def _check_completable(item: ItemOutline, done: set[UUID]) -> None:
        if item.kind not in SELF_COMPLETABLE_KINDS:
            raise Conflict("An assessment is completed by passing it, not by marking it done", extra={"code": "graded"})
        missing = [str(p) for p in item.prerequisites if p not in done]
        if missing:
            raise Conflict(
                "This item is locked: finish its prerequisites first",
                extra={"code": "locked", "missing_prerequisites": missing},
            )
