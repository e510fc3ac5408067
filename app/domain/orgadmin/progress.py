"""Learners' progress in one course, for its org's instructors and admins (issue 17): the completion funnel,
the distribution of progress in deciles, and the learners at risk (inactive for N days, or failing an
assessment repeatedly), as a page or as a CSV streamed from a server-side cursor.

Everything is computed in PostgreSQL from the ledger (``progress_events``), enrolments and submissions, under
the caller's row-level security: a course of another org is simply not found."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import Float, Integer, Select, and_, case, cast, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.db.models import Assessment, Enrollment, Grade, ProgressEvent, Submission, User
from app.domain.base import TenantService
from app.domain.orgadmin.courses import course_title, items_done_by_enrollment, items_total
from app.domain.orgadmin.schemas import AtRiskLearner, CourseProgressReport, DecileOut, FunnelOut
from app.lib.pagination import fetch_page, paginated

CSV_HEADER = (
    "name",
    "email",
    "enrolled_at",
    "last_active_at",
    "inactive_days",
    "failed_attempts",
    "items_done",
    "items_total",
    "reasons",
)
CSV_BATCH = 500  # rows fetched per round trip of the server-side cursor
# Spreadsheets run a cell starting with these as a formula (CSV injection, OWASP): such cells get a leading
# apostrophe, which spreadsheets show as text and do not evaluate.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_line(values: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class AtRiskRule:
    inactive_days: int = 14
    failed_attempts: int = 3


def _at_risk_query(course_id: UUID, total: int, rule: AtRiskRule) -> Select[Any]:
    done = items_done_by_enrollment(course_id).subquery()
    last_event = (
        select(ProgressEvent.stream_id.label("enrollment_id"), func.max(ProgressEvent.created_at).label("at"))
        .where(ProgressEvent.course_id == course_id)
        .group_by(ProgressEvent.stream_id)
        .subquery()
    )
    # A failed attempt: a submission whose latest grade (a human override adds a newer one) did not pass.
    latest_passed = (
        select(Grade.passed)
        .where(Grade.submission_id == Submission.id)
        .order_by(Grade.created_at.desc(), Grade.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    attempts = (
        select(
            Submission.user_id.label("user_id"),
            func.count().filter(latest_passed.is_(False)).label("failed"),
            func.max(Submission.created_at).label("at"),
        )
        .join(Assessment, Assessment.id == Submission.assessment_id)
        .where(Assessment.course_id == course_id)
        .group_by(Submission.user_id)
        .subquery()
    )
    last_active = func.greatest(
        Enrollment.created_at,
        func.coalesce(Enrollment.last_item_at, Enrollment.created_at),
        func.coalesce(last_event.c.at, Enrollment.created_at),
        func.coalesce(attempts.c.at, Enrollment.created_at),
    ).label("last_active_at")
    inactive_days = cast(func.floor(func.extract("epoch", func.now() - last_active) / 86400), Integer)
    failed = func.coalesce(attempts.c.failed, 0)
    inactive = inactive_days >= rule.inactive_days
    failing = failed >= rule.failed_attempts
    return (
        select(
            Enrollment.user_id,
            User.name,
            User.email,
            Enrollment.created_at,
            last_active,
            inactive_days.label("inactive_days"),
            failed.label("failed"),
            func.coalesce(done.c.done, 0).label("done"),
            literal(total).label("total"),
            inactive.label("inactive"),
            failing.label("failing"),
        )
        .join(User, User.id == Enrollment.user_id)
        .outerjoin(done, done.c.enrollment_id == Enrollment.id)
        .outerjoin(last_event, last_event.c.enrollment_id == Enrollment.id)
        .outerjoin(attempts, attempts.c.user_id == Enrollment.user_id)
        .where(Enrollment.course_id == course_id, Enrollment.status == "active", or_(inactive, failing))
        .order_by(last_active, Enrollment.id)
    )


def _learner(row: Any) -> AtRiskLearner:
    reasons: list[Any] = [r for r, flag in (("inactive", row.inactive), ("failing", row.failing)) if flag]
    return AtRiskLearner(
        user_id=row.user_id,
        name=row.name,
        email=row.email,
        enrolled_at=row.created_at,
        last_active_at=row.last_active_at,
        inactive_days=row.inactive_days,
        failed_attempts=row.failed,
        items_done=row.done,
        items_total=row.total,
        reasons=reasons,
    )


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


@dataclass(eq=False, repr=False, kw_only=True)
class ProgressReportService(TenantService):
    async def report(self, course_id: UUID) -> CourseProgressReport:
        done = items_done_by_enrollment(course_id).subquery()
        async with self._tx() as session:
            title = await course_title(session, course_id)
            total = await items_total(session, course_id)
            count_done = func.coalesce(done.c.done, 0)
            share: ColumnElement[float] = case(
                (Enrollment.status == "completed", 1.0),
                (literal(total) > 0, cast(count_done, Float) / max(total, 1)),
                else_=0.0,
            )
            per_enrollment = (
                select(
                    Enrollment.status.label("status"),
                    count_done.label("done"),
                    func.least(cast(func.floor(share * 10), Integer), 9).label("decile"),
                )
                .outerjoin(done, done.c.enrollment_id == Enrollment.id)
                .where(Enrollment.course_id == course_id)
                .subquery()
            )
            funnel = (
                await session.execute(
                    select(
                        func.count(),
                        func.count().filter(or_(per_enrollment.c.done > 0, per_enrollment.c.status == "completed")),
                        func.count().filter(
                            or_(
                                and_(literal(total) > 0, per_enrollment.c.done * 2 >= total),
                                per_enrollment.c.status == "completed",
                            )
                        ),
                        func.count().filter(per_enrollment.c.status == "completed"),
                    )
                )
            ).one()
            buckets: dict[int, int] = dict(
                (
                    await session.execute(
                        select(per_enrollment.c.decile, func.count()).group_by(per_enrollment.c.decile)
                    )
                ).all()
            )
        return CourseProgressReport(
            course_id=course_id,
            title=title,
            items_total=total,
            funnel=FunnelOut(*funnel),
            deciles=[DecileOut(low=d * 10, high=d * 10 + 10, learners=buckets.get(d, 0)) for d in range(10)],
        )

    async def at_risk(self, course_id: UUID, rule: AtRiskRule, page: LimitOffset) -> OffsetPagination[AtRiskLearner]:
        async with self._tx() as session:
            await course_title(session, course_id)
            total = await items_total(session, course_id)
            rows, result = await fetch_page(session, _at_risk_query(course_id, total, rule), page)
        return paginated([_learner(row) for row in rows], result)

    async def check_course(self, course_id: UUID) -> str:
        """The course's title, or 404, before a CSV response starts (a stream cannot turn into a problem)."""
        async with self._tx() as session:
            return await course_title(session, course_id)

    async def at_risk_csv(self, course_id: UUID, rule: AtRiskRule) -> AsyncIterator[str]:
        """The at-risk learners as CSV lines, read through a server-side cursor ``CSV_BATCH`` rows at a time:
        memory stays flat whatever the course's size. The transaction stays open while the client reads."""
        yield csv_line(CSV_HEADER)
        async with self._tx() as session:
            total = await items_total(session, course_id)
            query = _at_risk_query(course_id, total, rule).execution_options(yield_per=CSV_BATCH)
            result = await session.stream(query)
            async for row in result:
                learner = _learner(row)
                yield csv_line(
                    (
                        learner.name,
                        learner.email,
                        _iso(learner.enrolled_at),
                        _iso(learner.last_active_at),
                        learner.inactive_days,
                        learner.failed_attempts,
                        learner.items_done,
                        learner.items_total,
                        " ".join(learner.reasons),
                    )
                )
