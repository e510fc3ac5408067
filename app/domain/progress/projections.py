"""``lyceum projections rebuild``: every projection of the progress ledger, folded again from
``progress_events`` (append-only, the source of truth).

Two projections live beside the ledger:

- **progress**: an enrollment's ``status`` and ``completed_at`` (``completed`` with the time of its
  ``course.completed`` event). Enrollments are not themselves a projection (they hold the learner's
  position and a withdrawal), so the rebuild recomputes those two columns and writes only the rows that
  differ; a consistent database is left untouched.
- **mastery**: ``mastery_estimates`` and its ``projection_checkpoints`` (app/domain/mastery/projector.py),
  deleted and refilled.

Streams are read in (stream_id, version) order; the folds are pure and the rows take their ids and times
from the events, so a rebuild of a consistent database reproduces both projections byte for byte
(tests/integration/progress/test_projections.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import TenantDatabase
from app.db.models import Enrollment, MasteryEstimate, ProgressEvent, ProjectionCheckpoint, RedactionEvent
from app.domain.mastery.projector import (
    CourseModel,
    StreamEvent,
    checkpoint_row,
    course_models,
    estimate_rows,
    fold_stream,
)

BATCH = 5000


@dataclass
class RebuildReport:
    events: int = 0  # in the org's ledger: what was rebuilt from
    folded: int = 0  # of those, the events a projection reads (the rest cannot change a projection)
    streams: int = 0
    estimates: int = 0
    enrollments_repaired: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Enrollment:
    id: UUID
    org_id: UUID
    user_id: UUID
    course_id: UUID
    status: str
    completed_at: datetime | None


def progress_state(enrollment: _Enrollment, events: Sequence[StreamEvent]) -> tuple[str, datetime | None]:
    """The progress projection of one stream: completed at its ``course.completed`` event, else active
    (a withdrawal is not an event yet, so it is kept)."""
    completed = next((e.created_at for e in events if e.type == "course.completed"), None)
    if completed is not None:
        return "completed", completed
    return ("withdrawn" if enrollment.status == "withdrawn" else "active"), None


class _Writer:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.estimates: list[dict[str, Any]] = []
        self.checkpoints: list[dict[str, Any]] = []
        self.seen: set[UUID] = set()

    async def flush(self, final: bool = False) -> None:
        if self.estimates and (final or len(self.estimates) >= BATCH):
            await self.session.execute(insert(MasteryEstimate), self.estimates)
            self.estimates = []
        if self.checkpoints and (final or len(self.checkpoints) >= BATCH):
            await self.session.execute(insert(ProjectionCheckpoint), self.checkpoints)
            self.checkpoints = []


async def rebuild_projections(db: TenantDatabase) -> RebuildReport:
    """Rebuild the org's projections in one transaction (readers see the old or the new, never a gap)."""
    report = RebuildReport()
    started = time.perf_counter()
    async with db.transaction() as session:
        # Serialise with appends: the inline projector writes under the enrollment row lock.
        enrollments = {
            row.id: _Enrollment(row.id, row.org_id, row.user_id, row.course_id, row.status, row.completed_at)
            for row in await session.execute(
                select(
                    Enrollment.id,
                    Enrollment.org_id,
                    Enrollment.user_id,
                    Enrollment.course_id,
                    Enrollment.status,
                    Enrollment.completed_at,
                ).with_for_update()
            )
        }
        # Erased people stay erased: their streams are not folded again (migration 0026, redaction_events).
        erased = set(
            await session.scalars(select(RedactionEvent.user_id).where(RedactionEvent.kind == "user_erased").distinct())
        )
        enrollments = {key: e for key, e in enrollments.items() if e.user_id not in erased}
        await session.execute(delete(MasteryEstimate))
        await session.execute(delete(ProjectionCheckpoint))
        models = await course_models(session, sorted({e.course_id for e in enrollments.values()}))
        writer = _Writer(session)
        repairs: list[tuple[UUID, str, datetime | None]] = []
        stream: list[Any] = []
        current: UUID | None = None
        report.events = int(await session.scalar(select(func.count()).select_from(ProgressEvent)) or 0)
        # Only the events a projection reads (evidence for mastery, course.completed for progress): the
        # rest of the ledger (enrolled, lessons completed, assessment.passed) cannot change either fold,
        # so it is not fetched. ``is_evidence`` in app/domain/mastery/projector.py is the same rule.
        relevant = or_(
            ProgressEvent.type.in_(("assessment.graded", "course.completed")),
            and_(ProgressEvent.type == "item.completed", ProgressEvent.payload["kind"].astext == "exercise"),
        )
        result = await session.stream(
            select(
                ProgressEvent.stream_id,
                ProgressEvent.version,
                ProgressEvent.type,
                ProgressEvent.payload,
                ProgressEvent.created_at,
            )
            .where(relevant)
            .order_by(ProgressEvent.stream_id, ProgressEvent.version)
            .execution_options(yield_per=BATCH)
        )
        async for partition in result.partitions():
            for row in partition:
                if row.stream_id != current:
                    if current is not None:
                        await _fold(current, stream, enrollments, models, writer, repairs, report)
                    current, stream = row.stream_id, []
                stream.append(row)
                report.folded += 1
        if current is not None:
            await _fold(current, stream, enrollments, models, writer, repairs, report)
        for enrollment in enrollments.values():  # streams with nothing a projection reads
            if enrollment.id not in writer.seen:
                state = progress_state(enrollment, [])
                if state != (enrollment.status, enrollment.completed_at):
                    repairs.append((enrollment.id, *state))
        await writer.flush(final=True)
        for enrollment_id, status, completed_at in repairs:
            await session.execute(
                update(Enrollment)
                .where(Enrollment.id == enrollment_id)
                .values(status=status, completed_at=completed_at)
            )
        report.enrollments_repaired = len(repairs)
    report.seconds = time.perf_counter() - started
    return report


async def _fold(
    stream_id: UUID,
    events: list[Any],
    enrollments: dict[UUID, _Enrollment],
    models: dict[UUID, CourseModel],
    writer: _Writer,
    repairs: list[tuple[UUID, str, datetime | None]],
    report: RebuildReport,
) -> None:
    enrollment = enrollments.get(stream_id)
    if enrollment is None:  # a stream whose enrollment is gone: nothing to project it onto
        return
    report.streams += 1
    writer.seen.add(stream_id)
    status, completed_at = progress_state(enrollment, events)
    if (status, completed_at) != (enrollment.status, enrollment.completed_at):
        repairs.append((enrollment.id, status, completed_at))
    fold = fold_stream(events, models[enrollment.course_id])
    rows = estimate_rows(enrollment.org_id, enrollment.user_id, enrollment.course_id, fold)
    writer.estimates.extend(rows)
    report.estimates += len(rows)
    checkpoint = checkpoint_row(enrollment.org_id, stream_id, fold)
    if checkpoint is not None:
        writer.checkpoints.append(checkpoint)
    await writer.flush()
