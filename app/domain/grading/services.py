"""Submissions (API side) and grading (worker side): validate, enqueue, grade once, route, record."""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import structlog
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from litestar.response import ServerSentEventMessage
from redis.exceptions import RedisError
from saq import Queue
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.content.schema import Rubric, learner_view
from app.db.engine import Database
from app.db.models import Assessment, DeadLetter, Enrollment, Grade, ReviewItem, Submission
from app.db.repositories import Repository, RepositoryService
from app.domain.audit.services import record_audit
from app.domain.base import TenantService
from app.domain.credentials.enqueue import enqueue_credentials
from app.domain.grading import metrics as grading_metrics
from app.domain.grading.components import GradingComponents
from app.domain.grading.graders import (
    GradeResult,
    GraderOutputError,
    grade_code_result,
    grade_multiple_choice,
    grade_short_answer,
    grader_of,
)
from app.domain.grading.ports import ReviewQueue
from app.domain.grading.schemas import (
    AssessmentOut,
    CriterionResult,
    DeadLetterOut,
    QuestionMark,
    SubmissionAccepted,
    SubmissionIn,
    SubmissionOut,
    SubmittedAnswer,
    TestRunOut,
    VisibleTestOut,
)
from app.domain.lti.ags import enqueue_scores, record_scores
from app.domain.mastery.gates import gate_conflict, unmet_requirements
from app.domain.progress.completion import passes, record_grade_progress
from app.domain.progress.services import completed_enrollments, item_lock
from app.lib import events
from app.lib.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from app.lib.events import EventBus, SlowConsumer
from app.lib.jobs import grading_job_key
from app.lib.ratelimit import TokenBucketLimiter, bucket
from app.lib.sockets import SSE_PING
from app.lib.throttle import enforce

log = structlog.get_logger("lyceum.grading")
ANSWER_FIELD = {"multiple_choice": "choices", "short_answer": "text", "code": "code"}
SETTLED = frozenset({"graded", "failed"})  # a submission in these states changes no more (bar a dispute)


def _field_error(field: str, detail: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=[{"pointer": f"#/{field}", "detail": detail}])


def validate_answer(assessment: Assessment, data: SubmissionIn, max_bytes: int) -> dict[str, Any]:
    """The answer as stored, or 422 naming the field: the one matching the kind, well-formed, in bounds."""
    wanted = ANSWER_FIELD[assessment.kind]
    given = [name for name in ANSWER_FIELD.values() if getattr(data, name) is not None]
    if given != [wanted]:
        raise _field_error(wanted, f"a {assessment.kind.replace('_', ' ')} assessment takes exactly '{wanted}'")
    if assessment.kind == "multiple_choice":
        questions = assessment.spec.get("questions", [])
        choices = data.choices or []
        if len(choices) != len(questions):
            raise _field_error("choices", f"answer all {len(questions)} questions, one option index each")
        for number, (choice, question) in enumerate(zip(choices, questions, strict=True)):
            if choice >= len(question.get("options", [])):
                raise _field_error(f"choices/{number}", f"question {number + 1} has no option {choice}")
        return {"choices": choices}
    text = str(getattr(data, wanted)).strip()
    if not text:
        raise _field_error(wanted, "the answer is empty")
    limit = int(assessment.spec.get("max_chars", 0)) or max_bytes
    if len(text.encode()) > max_bytes or len(text) > limit:
        raise _field_error(wanted, f"the answer is too long (at most {min(limit, max_bytes)} characters)")
    return {wanted: text}


# The learner's words for each grader (``graders.GRADERS``): never an internal id such as a prompt version.
GRADER_WORDS = {
    "person": "your instructor",
    "answer_key": "the answer key",
    "unit_tests": "the automatic tests",
    "offline_keywords": "the key-term check (no AI model on this server)",
    "ai_model": "the AI grader",
}


def submission_out(submission: Submission, grade: Grade | None, review: ReviewItem | None) -> SubmissionOut:
    open_review = review is not None and review.status == "open"
    out = SubmissionOut(
        id=submission.id,
        assessment_id=submission.assessment_id,
        user_id=submission.user_id,
        status=submission.status,
        created_at=submission.created_at,
        updated_at=submission.updated_at,
        detail=submission.detail,
        in_review=open_review,
        review_due_at=review.sla_due_at if review is not None and open_review else None,
        answer=msgspec.convert(submission.answer or {}, SubmittedAnswer),
    )
    if grade is None or submission.status not in ("graded", "in_review"):
        return out
    criteria = [msgspec.convert(c, CriterionResult) for c in grade.rationale.get("criteria", [])]
    visible = submission.status == "graded"  # a grade under review is provisional: hide it from the learner
    questions = [msgspec.convert(q, QuestionMark) for q in grade.rationale.get("questions", [])] if visible else []
    grader = grader_of(grade.graded_by, grade.prompt_version, grade.rationale)
    return msgspec.structs.replace(
        out,
        score=grade.score if visible else None,
        max_score=grade.max_score,
        passed=grade.passed if visible else None,
        feedback=grade.feedback if visible else "",
        graded_by=grade.graded_by,
        grader=grader,
        grader_label=GRADER_WORDS[grader],
        confidence=grade.confidence,
        criteria=criteria if visible else [],
        questions=questions,
    )


async def latest_grade(session: AsyncSession, submission_id: UUID) -> Grade | None:
    return (await latest_grades(session, [submission_id])).get(submission_id)


async def latest_grades(
    session: AsyncSession, submission_ids: Sequence[UUID], *, ai_only: bool = False
) -> dict[UUID, Grade]:
    """The newest grade of each submission (the AI's newest with ``ai_only``), in one statement: listings
    use this rather than a query per row."""
    if not submission_ids:
        return {}
    query = select(Grade).where(Grade.submission_id.in_(list(submission_ids)))
    if ai_only:
        query = query.where(Grade.graded_by != "human")
    newest = query.distinct(Grade.submission_id).order_by(Grade.submission_id, Grade.created_at.desc())
    return {grade.submission_id: grade for grade in await session.scalars(newest)}


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcome:
    """What grading decided, captured inside the transaction and announced after the commit."""

    status: str
    reason: str | None
    submission_id: UUID
    course_id: UUID
    item_id: UUID
    user_id: UUID
    result: GradeResult | None  # None: no grade (the grader failed), a person grades it
    grade: Grade | None = None  # the row written (the request's response shows it)
    review: ReviewItem | None = None  # the review item opened, if any
    graded: events.AssessmentGraded | None = None  # mastery evidence recorded in the same transaction
    completed: tuple[tuple[UUID, UUID], ...] = ()  # (org, enrollment) the grade completed: queue credentials
    lti_scores: tuple[tuple[UUID, UUID], ...] = ()  # (org, score post) owed to LMS gradebooks: queue their jobs
    kind: str = ""  # the assessment's kind and when the answer came in: the grading-time SLI (docs/slo.md)
    submitted_at: datetime | None = None


class _GradingFailed(Exception):
    """Grading an exact answer inside the request failed (its cause is chained): the request stores the
    answer ungraded instead and leaves it to the worker."""


# Graded by the answer key alone: no network, no sandbox, a few microseconds of CPU. These are graded in
# the submitting request's transaction; every other kind goes through the queue to the worker.
EXACT_KINDS = frozenset({"multiple_choice"})
_SAMPLING = random.Random()  # noqa: S311  # the quality sample's draws, not security: one per process


def grade_exactly(assessment: Assessment, answer: dict[str, Any]) -> GradeResult:
    return grade_multiple_choice(dict(assessment.spec), list(answer["choices"]))


class _PracticeRuns:
    """Practice runs execute in the API process (graded runs go to the worker): at most ``limit`` at once per
    process, on top of each learner's rate limit, so a burst cannot starve request handling of CPU."""

    active = 0
    limit = 4


class DeadLetterRepository(Repository[DeadLetter]):
    model_type = DeadLetter


class DeadLetters(RepositoryService[DeadLetter, DeadLetterRepository]):
    """Reads of the jobs that failed for good (the worker writes them in ``GradingRun.dead_letter``)."""

    repository_type = DeadLetterRepository


def grade_row(submission: Submission, assessment: Assessment, result: GradeResult, at: datetime | None = None) -> Grade:
    """The ``grades`` row for ``result`` (pass or fail by the assessment's pass mark); ``at`` backdates it
    (the seed's demo history), otherwise the database's clock stamps it."""
    stamps = {"created_at": at, "updated_at": at} if at is not None else {}
    return Grade(
        org_id=submission.org_id,
        submission_id=submission.id,
        score=result.score,
        max_score=result.max_score,
        passed=passes(result.score, result.max_score, assessment.pass_mark),
        feedback=result.feedback,
        graded_by=result.graded_by,
        confidence=result.confidence,
        prompt_version=result.prompt_version,
        rationale={"criteria": [msgspec.to_builtins(c) for c in result.criteria], **result.details},
        **stamps,
    )


@dataclasses.dataclass(eq=False, repr=False, kw_only=True)
class SubmissionService(TenantService):
    """What learners do: read an assessment, submit, follow the grade, disagree. Submitting and test runs
    are rate limited (``limiter``); a submission is queued for grading (``queue``); a disagreement opens a
    review (``review_queue``) and is announced, and grades are followed, on ``events``."""

    settings: Settings
    limiter: TokenBucketLimiter
    queue: Queue
    events: EventBus
    review_queue: ReviewQueue

    async def _assessment(self, session: AsyncSession, assessment_id: UUID) -> Assessment:
        assessment = await session.get(Assessment, assessment_id)  # RLS: another org's is simply not there
        if assessment is None:
            raise NotFound("No such assessment in your organization")
        return assessment

    async def assessment(self, assessment_id: UUID) -> AssessmentOut:
        async with self._tx() as session:
            a = await self._assessment(session, assessment_id)
            if not self.principal.is_staff:
                # Behind a competency gate the task is closed like its item page (409 naming what is missing).
                gates = await unmet_requirements(session, self.principal.user_id, [a.item_id])
                if gates:
                    raise gate_conflict(gates[a.item_id])
            return AssessmentOut(
                id=a.id,
                item_id=a.item_id,
                course_id=a.course_id,
                kind=a.kind,
                graded=a.graded,
                pass_mark=a.pass_mark,
                objectives=list(a.objectives),
                spec=learner_view(a.spec),
            )

    async def for_item(self, item_id: UUID) -> AssessmentOut:
        async with self._tx() as session:
            assessment_id = await session.scalar(select(Assessment.id).where(Assessment.item_id == item_id))
        if assessment_id is None:
            raise NotFound("This item has no assessment")
        return await self.assessment(assessment_id)

    async def submit(self, assessment_id: UUID, data: SubmissionIn) -> SubmissionAccepted:
        """Store the answer. An exact-answer assessment (``EXACT_KINDS``) is graded, routed and recorded in
        this same transaction and announced after its commit: the answer and its grade commit together or
        not at all. Model- and sandbox-graded work is queued for the worker."""
        s = self.settings
        limit = bucket("user", f"rl:submit:user:{self.principal.user_id}", s.rate_limit_submit_user)
        await enforce(s, self.limiter, "submit", [limit], fail_open=True)
        recorder = GradeRecorder(settings=s, review_queue=self.review_queue, events=self.events, queue=self.queue)
        try:
            accepted, outcome = await self._accept(assessment_id, data, recorder)
        except _GradingFailed as exc:
            # A bug or a database hiccup in grading must not lose the answer (nor be a 5xx): store it
            # ungraded, and the worker grades it (retrying, then dead-lettering) as it does any job.
            log.warning("exact_grading_deferred", assessment_id=str(assessment_id), error=repr(exc.__cause__))
            accepted, outcome = await self._accept(assessment_id, data, None)
        if outcome is None:
            await enqueue_grading(self.queue, s, accepted.id, self.principal.org_id)
        else:
            await recorder.announce(self.principal.org_id, outcome)
        return accepted

    async def _accept(
        self, assessment_id: UUID, data: SubmissionIn, recorder: GradeRecorder | None
    ) -> tuple[SubmissionAccepted, _Outcome | None]:
        """The new submission (and, with ``recorder``, for an exact-answer assessment, its grade) in one
        transaction. Raises ``_GradingFailed`` (rolling it all back) when grading itself fails."""
        s = self.settings
        async with self._tx() as session:
            assessment = await self._assessment(session, assessment_id)
            answer = validate_answer(assessment, data, s.submission_max_bytes)
            enrolled = await session.scalar(
                select(Enrollment).where(
                    Enrollment.course_id == assessment.course_id, Enrollment.user_id == self.principal.user_id
                )
            )
            if enrolled is None:
                raise Conflict("Enroll in the course before submitting", extra={"code": "not_enrolled"})
            # Locked (prerequisites) or gated (competencies) assessments refuse answers, as their pages do.
            lock = await item_lock(session, enrolled.id, self.principal.user_id, assessment.item_id)
            if lock is not None:
                raise lock
            submission = Submission(
                org_id=self.principal.org_id,
                assessment_id=assessment.id,
                user_id=self.principal.user_id,
                status="queued",
                answer=answer,
            )
            session.add(submission)
            if recorder is None or assessment.kind not in EXACT_KINDS:
                await session.flush()
                return SubmissionAccepted(id=submission.id, status="queued"), None
            # Not flushed yet: ``apply`` decides its status first, so the row is inserted once, already graded.
            try:
                result = grade_exactly(assessment, answer)
                outcome = await recorder.apply(session, submission, assessment, result, None, enrollment=enrolled)
                await session.flush()
                out = submission_out(submission, outcome.grade, outcome.review)
            except Exception as exc:
                raise _GradingFailed from exc
        return SubmissionAccepted(id=out.id, status=out.status, submission=out), outcome

    async def run_visible_tests(self, assessment_id: UUID, code: str) -> TestRunOut:
        """Run the code against the task's VISIBLE tests in the sandbox, for practice: no submission, no grade.

        Hidden tests never run here (their outcomes would leak what they check). Rate limited like
        submitting; fails closed with 503 when the sandbox cannot be built on this server."""
        from app.domain.grading.sandbox import SandboxLimits, SandboxUnavailable, run_code_tests, sandbox_policy

        s = self.settings
        limit = bucket("user", f"rl:testrun:user:{self.principal.user_id}", s.rate_limit_submit_user)
        await enforce(s, self.limiter, "test_run", [limit], fail_open=True)
        async with self._tx() as session:
            assessment = await self._assessment(session, assessment_id)
            if assessment.kind != "code":
                raise Conflict("Only coding tasks have tests to run", extra={"code": "not_code"})
            answer = validate_answer(assessment, SubmissionIn(code=code), s.submission_max_bytes)
            enrolled = await session.scalar(
                select(Enrollment.id).where(
                    Enrollment.course_id == assessment.course_id, Enrollment.user_id == self.principal.user_id
                )
            )
            if enrolled is None:
                raise Conflict("Enroll in the course before running its tests", extra={"code": "not_enrolled"})
            tests = str(assessment.spec.get("visible_tests") or "")
            seconds = float(assessment.spec.get("time_limit_seconds", 5))
        if not tests.strip():
            raise Conflict("This task has no visible tests to run", extra={"code": "no_visible_tests"})
        limits = SandboxLimits(cpu_seconds=seconds, wall_seconds=seconds * 2 + 2)
        if _PracticeRuns.active >= _PracticeRuns.limit:
            raise ServiceUnavailable(
                "The code runner is busy; try again in a few seconds", extra={"code": "runner_busy"}
            )
        _PracticeRuns.active += 1
        try:
            run = await run_code_tests(answer["code"], tests, limits, sandbox_policy(s))
        except SandboxUnavailable as exc:
            log.warning("visible_tests_unavailable", error=str(exc))
            raise ServiceUnavailable(
                "Running code is not available on this server: its code sandbox (bubblewrap) is missing. "
                "You can still submit; a person will grade your code.",
                extra={"code": "sandbox_unavailable"},
            ) from exc
        finally:
            _PracticeRuns.active -= 1
        return TestRunOut(
            status=run.status,
            passed=run.passed,
            total=run.total,
            tests=[
                VisibleTestOut(t.name, t.passed, t.message, t.assertion, t.expected, t.actual, t.params)
                for t in run.tests[:50]
            ],
            detail=run.detail,
            stdout=run.stdout[-4000:],
            duration_ms=round(run.duration_ms, 1),
        )

    async def get(self, submission_id: UUID) -> SubmissionOut:
        async with self._tx() as session:
            submission = await session.get(Submission, submission_id)
            if submission is None:
                raise NotFound("No such submission")
            if submission.user_id != self.principal.user_id and not self.principal.is_staff:
                raise Forbidden("This submission belongs to someone else")
            review = await session.scalar(select(ReviewItem).where(ReviewItem.submission_id == submission_id))
            return submission_out(submission, await latest_grade(session, submission_id), review)

    async def watch(self, submission_id: UUID) -> AsyncIterator[ServerSentEventMessage]:
        """Server-sent events for one submission of the caller's: ``event: submission`` with its current
        state now and again whenever the event bus says it changed (graded, escalated, a reviewer decided),
        ending once it is graded or failed. Only the submission's own state is sent, never the org's events.
        Access is checked before the stream starts (404/403), and the subscription opens before the first
        read, so a decision made in between is not missed."""
        await self.get(submission_id)
        stack = contextlib.AsyncExitStack()
        sub = await stack.enter_async_context(self.events.subscribe(self.principal.org_id, replay=0))
        return self._watch(submission_id, sub, stack)

    async def _watch(
        self, submission_id: UUID, sub: Any, stack: contextlib.AsyncExitStack
    ) -> AsyncIterator[ServerSentEventMessage]:
        encoder = msgspec.json.Encoder()
        wanted = str(submission_id)
        try:
            while True:
                current = await self.get(submission_id)
                yield ServerSentEventMessage(event="submission", data=encoder.encode(current))
                if current.status in SETTLED:
                    return
                while True:
                    try:
                        delivery = await sub.next(self.settings.feed_ping_seconds or None)
                    except SlowConsumer:
                        return  # the client reconnects and reads the state afresh
                    if delivery is None:
                        yield SSE_PING
                    elif delivery.event.data.get("submission_id") == wanted:
                        break
        finally:
            await stack.aclose()

    async def mine(self, assessment_id: UUID) -> list[SubmissionOut]:
        async with self._tx() as session:
            await self._assessment(session, assessment_id)
            rows = list(
                await session.scalars(
                    select(Submission)
                    .where(Submission.assessment_id == assessment_id, Submission.user_id == self.principal.user_id)
                    .order_by(Submission.created_at.desc())
                    .limit(20)
                )
            )
            reviews = {
                r.submission_id: r
                for r in await session.scalars(
                    select(ReviewItem).where(ReviewItem.submission_id.in_([row.id for row in rows]))
                )
            }
            # Hand-written (ADR 0009): grades for the whole list in one statement, not one per submission.
            grades = await latest_grades(session, [row.id for row in rows])
            return [submission_out(r, grades.get(r.id), reviews.get(r.id)) for r in rows]

    async def disagree(self, submission_id: UUID, reason: str) -> SubmissionOut:
        """The learner contests an AI grade: a human reviews it (once; a second flag changes nothing)."""
        async with self._tx() as session:
            submission = await session.get(Submission, submission_id, with_for_update=True)
            if submission is None or submission.user_id != self.principal.user_id:
                raise NotFound("No such submission of yours")
            if submission.status != "graded":
                raise Conflict(
                    "Only a finished grade can be contested", extra={"code": "not_graded", "status": submission.status}
                )
            review = await session.scalar(select(ReviewItem).where(ReviewItem.submission_id == submission_id))
            assessment = await self._assessment(session, submission.assessment_id)
            if review is None:
                review = self.review_queue.open(submission, assessment, "disagreement")
                session.add(review)
            elif review.status == "decided":
                raise Conflict("A person has already reviewed this grade", extra={"code": "already_reviewed"})
            else:
                self.review_queue.reprioritise(review, "disagreement")
            review.decision_reason = ""
            review.dispute_reason = reason
            submission.status = "in_review"
            record_audit(
                session,
                org_id=submission.org_id,
                actor_id=self.principal.user_id,
                action="submission.disputed",
                entity_type="submission",
                entity_id=submission.id,
                after={"reason": reason[:500]},
                request_id=self.request_id,
            )
            out = submission_out(submission, await latest_grade(session, submission_id), review)
        self.events.publish_soon(
            self.principal.org_id,
            events.SubmissionEscalated(
                submission_id=submission_id,
                course_id=assessment.course_id,
                item_id=assessment.item_id,
                user_id=self.principal.user_id,
                reason="disagreement",
                confidence=None,
            ),
        )
        return out

    async def dead_letters(self, page: LimitOffset) -> OffsetPagination[DeadLetterOut]:
        async with self._tx() as session:
            letters = DeadLetters(session=session)
            rows, total = await letters.list_and_count(page, order_by=(DeadLetter.created_at, True))
            return letters.to_schema(rows, total, filters=[page], schema_type=DeadLetterOut)


def stale_after_seconds(settings: Settings) -> int:
    """How long a submission may sit ``queued``, or ``grading`` without a heartbeat, before the sweep
    enqueues it again (LYCEUM_GRADING_STALE_SECONDS, 60 s by default). A live job stamps its heartbeat
    three times per LYCEUM_GRADING_HEARTBEAT_SECONDS, so a slow or loaded worker is far from this; and a
    re-enqueue of a submission whose job still exists is refused by the job key anyway."""
    return settings.grading_stale_seconds


async def enqueue_grading(queue: Queue, settings: Settings, submission_id: UUID, org_id: UUID) -> bool:
    """Queue the grading job; False if no new job was queued (a live job has this submission's key, or
    Redis is down). If Redis is briefly down the submission stays queued and the worker's sweep
    re-enqueues it (jobs.tasks.requeue_stalled_submissions): nothing is lost."""
    s = settings
    try:
        job = await queue.enqueue(
            "grade_submission",
            key=grading_job_key(submission_id),
            submission_id=str(submission_id),
            org_id=str(org_id),
            retries=s.grading_retries,
            retry_delay=1.0,
            retry_backoff=30.0,
            timeout=s.grading_timeout_seconds,
            heartbeat=s.grading_heartbeat_seconds,
        )
    except (RedisError, OSError) as exc:
        log.warning("grading_enqueue_failed", submission_id=str(submission_id), error=str(exc))
        return False
    return job is not None


@dataclasses.dataclass(eq=False, repr=False, kw_only=True)
class GradeRecorder:
    """Write a grade and announce it after the commit: the one path shared by the request that grades an
    exact answer (``SubmissionService.submit``) and the worker (``GradingService``). ``apply`` runs in the
    caller's transaction; ``announce`` only after it committed, so the feed never announces a grade that was
    rolled back. A crash between the two loses no grade (it is committed): credentials and LMS scores owed
    are queued again by the worker's sweeps (``issue_pending_credentials``, ``lti_post_pending_scores``)."""

    settings: Settings
    review_queue: ReviewQueue
    events: EventBus
    queue: Queue
    rng: random.Random = dataclasses.field(default_factory=lambda: _SAMPLING)  # review sampling, not security

    def route(self, assessment: Assessment, result: GradeResult | None) -> str | None:
        """Why a person must look (or None): no grade, low confidence, or the random quality sample."""
        if result is None:
            return "grader_error"
        if result.confidence < assessment.confidence_threshold:
            return "low_confidence"
        if self.rng.random() < self.settings.review_sample_rate:
            return "sample"
        return None

    async def apply(
        self,
        session: AsyncSession,
        submission: Submission,
        assessment: Assessment,
        result: GradeResult | None,
        escalation: str | None,
        *,
        enrollment: Enrollment | None = None,
    ) -> _Outcome:
        """Write the grade, the review item and progress events; returns what to announce after commit.
        ``enrollment``: the learner's, when the caller has already read it."""
        reason = self.route(assessment, result)
        submission.status = "in_review" if reason in ("grader_error", "low_confidence") else "graded"
        # The submission's row first (inserted here when the request grades it, updated in the worker): the
        # grade and review rows refer to it, and the unit of work does not order rows by foreign keys.
        await session.flush()
        grade = review = None
        if result is not None:
            grade = grade_row(submission, assessment, result)
            session.add(grade)
        if reason is not None:
            review = self.review_queue.open(submission, assessment, reason)
            review.decision_reason = escalation or ""
            session.add(review)
        graded = None
        if submission.status == "graded" and grade is not None:
            graded = await record_grade_progress(session, submission, assessment, grade, enrollment=enrollment)
        return _Outcome(
            status=submission.status,
            reason=reason,
            submission_id=submission.id,
            course_id=assessment.course_id,
            item_id=assessment.item_id,
            user_id=submission.user_id,
            result=result,
            grade=grade,
            review=review,
            graded=graded,
            completed=tuple(completed_enrollments(session)),
            lti_scores=await record_scores(session, submission, assessment, grade),
            kind=assessment.kind,
            submitted_at=submission.created_at,
        )

    async def announce(self, org_id: UUID, outcome: _Outcome) -> str:
        """After the commit: queue what the grade owes (credentials, LMS scores) and publish it."""
        o, result = outcome, outcome.result
        grading_metrics.observe_grade(o.kind, o.submitted_at, o.status)  # committed: count it
        await enqueue_credentials(self.queue, self.settings, o.completed)
        await enqueue_scores(self.queue, self.settings, o.lti_scores)
        if o.status == "in_review":
            await self.events.publish(
                org_id,
                events.SubmissionEscalated(
                    submission_id=o.submission_id,
                    course_id=o.course_id,
                    item_id=o.item_id,
                    user_id=o.user_id,
                    reason=str(o.reason),
                    confidence=result.confidence if result else None,
                ),
            )
        elif result is not None:
            await self.events.publish(
                org_id,
                events.SubmissionGraded(
                    submission_id=o.submission_id,
                    course_id=o.course_id,
                    item_id=o.item_id,
                    user_id=o.user_id,
                    score=result.score,
                    max_score=result.max_score,
                    graded_by=result.graded_by,
                    grader=grader_of(result.graded_by, result.prompt_version, result.details),
                ),
            )
        if o.graded is not None:
            await self.events.publish(org_id, o.graded)
        return o.status


@dataclasses.dataclass(eq=False, repr=False)
class GradingService:
    """The worker side: grade a submission exactly once (``grading``: the graders and the review queue)
    and route it; outcomes are announced on ``events``, and a grade that completes a course queues its
    credential on ``queue``. Jobs carry their org, so it opens the org's transactions itself."""

    db: Database
    org_id: UUID
    _: dataclasses.KW_ONLY
    settings: Settings
    grading: GradingComponents
    events: EventBus
    queue: Queue
    rng: random.Random = dataclasses.field(default_factory=random.Random, init=False)  # review sampling, not security

    def _tx(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.db.transaction(self.org_id)

    @property
    def recorder(self) -> GradeRecorder:
        return GradeRecorder(
            settings=self.settings,
            review_queue=self.grading.review_queue,
            events=self.events,
            queue=self.queue,
            rng=self.rng,
        )

    async def grade(self, submission_id: UUID) -> str:
        """Returns the final status. Already graded (a duplicate or re-run job): does nothing."""
        async with self._tx() as session:
            submission = await session.get(Submission, submission_id, with_for_update=True)
            if submission is None:
                return "missing"
            if submission.status in ("graded", "in_review", "failed"):
                return submission.status
            assessment = await session.get(Assessment, submission.assessment_id)
            assert assessment is not None
            if assessment.kind in EXACT_KINDS:
                # Submitted answers are graded in the request; one lands here only when that failed (or was
                # submitted before exact grading moved there): grade and record it in this one transaction.
                outcome = await self.recorder.apply(
                    session, submission, assessment, grade_exactly(assessment, submission.answer), None
                )
            else:
                submission.status = "grading"
                submission.heartbeat_at = func.now()  # the database's clock, the one the sweep compares with
                outcome = None
                answer, kind, spec = dict(submission.answer), assessment.kind, dict(assessment.spec)
        if outcome is not None:
            return await self.recorder.announce(self.org_id, outcome)
        try:
            graded: GradeResult | None = await self._run_grader(kind, spec, answer)
            escalation = None
        except GraderOutputError as exc:
            log.warning("grader_output_invalid", submission_id=str(submission_id), error=str(exc))
            graded, escalation = None, str(exc)
        return await self._record(submission_id, graded, escalation)

    async def _run_grader(self, kind: str, spec: dict[str, Any], answer: dict[str, Any]) -> GradeResult:
        if kind == "short_answer":
            rubric = msgspec.convert(spec["rubric"], Rubric)
            return await grade_short_answer(self.grading.rubric_grader, rubric, spec["prompt"], answer["text"])
        from app.domain.grading.sandbox import SandboxLimits, SandboxUnavailable, run_code_tests, sandbox_policy

        seconds = float(spec.get("time_limit_seconds", 5))
        limits = SandboxLimits(cpu_seconds=seconds, wall_seconds=seconds * 2 + 2)
        try:
            run = await run_code_tests(answer["code"], spec["hidden_tests"], limits, sandbox_policy(self.settings))
        except SandboxUnavailable as exc:
            # Fail closed: the code is not run unisolated; a person grades it and nothing is lost.
            raise GraderOutputError(f"automatic code grading is unavailable on this server ({exc})") from exc
        result = grade_code_result(run)
        return await self._style_feedback(result, spec, answer["code"])

    async def _style_feedback(self, result: GradeResult, spec: dict[str, Any], code: str) -> GradeResult:
        """Tests decide the score; with a model configured, the rubric adds feedback on style and approach.
        Feedback that fails is left out rather than failing the grade."""
        if not spec.get("rubric") or self.grading.offline:
            return result
        rubric = msgspec.convert(spec["rubric"], Rubric)
        try:
            criteria = await self.grading.rubric_grader.grade_pass(rubric, spec.get("prompt", ""), code, 1)
        except GraderOutputError:
            return result
        notes = "\n".join(f"{c.criterion}: {c.rationale}" for c in criteria)
        return dataclasses.replace(
            result,
            feedback=f"{result.feedback}\n\nOn style and approach:\n{notes}",
            criteria=criteria,
            prompt_version=self.grading.rubric_grader.prompt_version,
        )

    async def _record(self, submission_id: UUID, result: GradeResult | None, escalation: str | None) -> str:
        async with self._tx() as session:
            submission = await session.get(Submission, submission_id, with_for_update=True)
            assert submission is not None
            if submission.status != "grading":
                return submission.status  # another run finished first: grade once
            assessment = await session.get(Assessment, submission.assessment_id)
            assert assessment is not None
            outcome = await self.recorder.apply(session, submission, assessment, result, escalation)
        return await self.recorder.announce(self.org_id, outcome)

    async def dead_letter(self, submission_id: UUID, job_key: str, attempts: int, reason: str) -> None:
        """Grading failed for good: mark the submission failed (in words) and keep the job for admins."""
        async with self._tx() as session:
            submission = await session.get(Submission, submission_id, with_for_update=True)
            self._fail(session, submission, submission_id, job_key, attempts, reason)

    def _fail(
        self,
        session: AsyncSession,
        submission: Submission | None,
        submission_id: UUID,
        job_key: str,
        attempts: int,
        reason: str,
    ) -> None:
        if submission is not None and submission.status in ("queued", "grading"):
            submission.status = "failed"
            submission.detail = "Grading could not be completed. Your answer is saved; staff have been told."
            grading_metrics.observe_failed()  # the SLI (docs/slo.md); the caller commits at once, nothing else runs
        session.add(
            DeadLetter(
                org_id=self.org_id,
                job_key=job_key,
                function="grade_submission",
                submission_id=submission_id if submission is not None else None,
                attempts=attempts,
                reason=reason[:4000],
                payload={"submission_id": str(submission_id)},
            )
        )

    async def heartbeat(self, submission_id: UUID) -> None:
        """The running job's sign of life, next to the one SAQ keeps in Redis: Redis may lose its copy
        (or all its data); this one lives as long as the submission."""
        async with self._tx() as session:
            await session.execute(
                update(Submission)
                .where(Submission.id == submission_id, Submission.status == "grading")
                .values(heartbeat_at=func.now())
            )

    async def may_recover(self, submission_id: UUID) -> bool:
        """For the sweep: may this ``grading`` submission, silent past the threshold, be graded again?
        A submission that has already been recovered LYCEUM_GRADING_RETRIES times keeps losing its
        worker (or its job keeps timing out): it fails with a dead letter instead of looping forever."""
        s = self.settings
        async with self._tx() as session:
            submission = await session.get(Submission, submission_id, with_for_update=True)
            if submission is None or submission.status != "grading":
                return False  # finished meanwhile
            silent = await session.scalar(
                select(
                    func.coalesce(Submission.heartbeat_at, Submission.updated_at)
                    < func.now() - timedelta(seconds=stale_after_seconds(s))
                ).where(Submission.id == submission_id)
            )
            if not silent:
                return False  # its run beat again since the sweep looked
            if submission.recoveries >= s.grading_retries:
                log.error("grading_abandoned", submission_id=str(submission_id), recoveries=submission.recoveries)
                reason = f"abandoned: grading stopped without finishing {submission.recoveries + 1} times"
                self._fail(session, submission, submission_id, grading_job_key(submission_id), 0, reason)
                return False
        return True

    async def record_recovery(self, submission_id: UUID) -> None:
        """The sweep queued a new job for an abandoned run: count it, and stamp the heartbeat so the
        next sweep leaves the submission alone while the new job waits for a worker."""
        async with self._tx() as session:
            recoveries = await session.scalar(
                update(Submission)
                .where(Submission.id == submission_id, Submission.status == "grading")
                .values(recoveries=Submission.recoveries + 1, heartbeat_at=func.now())
                .returning(Submission.recoveries)
            )
        log.warning("grading_recovered", submission_id=str(submission_id), recoveries=recoveries)
