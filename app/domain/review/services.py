"""The human review queue: list, claim with a lease, decide; every decision audited and paired in ai_feedback."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from saq import Queue
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import AIFeedback, Assessment, Grade, Item, ReviewItem, Submission
from app.domain.audit.services import record_audit
from app.domain.base import TenantService
from app.domain.credentials.enqueue import enqueue_credentials
from app.domain.grading.graders import CODE_POINTS, grader_of
from app.domain.grading.services import latest_grades
from app.domain.lti.ags import enqueue_scores, record_scores
from app.domain.progress.completion import passes, record_grade_progress
from app.domain.progress.services import completed_enrollments
from app.domain.review.metrics import cohens_kappa, exact_agreement, median
from app.domain.review.schemas import (
    AgreementOut,
    DecisionIn,
    ReviewDetail,
    ReviewItemOut,
    ReviewMetrics,
    TestResultOut,
)
from app.domain.webhooks.outbox import record_event
from app.lib import events
from app.lib.errors import Conflict, NotFound, ValidationFailed
from app.lib.events import EventBus
from app.lib.pagination import fetch_page, paginated

_encoder = msgspec.json.Encoder()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False, repr=False, kw_only=True)
class ReviewService(TenantService):
    """Claims hold an item for ``lease_seconds``; claims and decisions are announced on ``events``; a
    decision that completes a course queues its credential on ``jobs`` (the job queue) after the commit."""

    events: EventBus
    lease_seconds: int
    jobs: Queue
    settings: Settings

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _base() -> Any:  # Select of (ReviewItem, learner id, assessment kind, item title)
        return (
            select(ReviewItem, Submission.user_id, Assessment.kind, Item.title)
            .join(Submission, Submission.id == ReviewItem.submission_id)
            .join(Assessment, Assessment.id == ReviewItem.assessment_id)
            .join(Item, Item.id == Assessment.item_id)
        )

    @staticmethod
    def _out(row: Any, grade: Grade | None) -> ReviewItemOut:
        """One queue row and its submission's newest AI grade (fetched by the caller: in one batch for a page)."""
        item, learner_id, kind, title = row
        now = _now()
        breached = (item.decided_at or now) > item.sla_due_at
        return ReviewItemOut(
            id=item.id,
            submission_id=item.submission_id,
            assessment_id=item.assessment_id,
            course_id=item.course_id,
            learner_id=learner_id,
            assessment_kind=kind,
            item_title=title,
            reason=item.reason,
            priority=item.priority,
            status=item.status,
            created_at=item.created_at,
            sla_due_at=item.sla_due_at,
            sla_breached=breached,
            claimed_by=item.claimed_by if item.lease_expires_at and item.lease_expires_at > now else None,
            lease_expires_at=item.lease_expires_at if item.lease_expires_at and item.lease_expires_at > now else None,
            ai_score=grade.score if grade else None,
            max_score=grade.max_score if grade else None,
            ai_confidence=grade.confidence if grade else None,
            grader=grader_of(grade.graded_by, grade.prompt_version, grade.rationale) if grade else None,
            dispute_reason=item.dispute_reason or "",
            decision=item.decision,
            decided_by=item.decided_by,
            decided_at=item.decided_at,
        )

    @staticmethod
    async def _ai_grade(session: AsyncSession, submission_id: UUID) -> Grade | None:
        return (await latest_grades(session, [submission_id], ai_only=True)).get(submission_id)

    async def queue(
        self,
        page: LimitOffset,
        status: str,
        reason: str | None,
        course_id: UUID | None,
        assessment_id: UUID | None,
    ) -> OffsetPagination[ReviewItemOut]:
        query = self._base().where(ReviewItem.status == status)
        if reason:
            query = query.where(ReviewItem.reason == reason)
        if course_id:
            query = query.where(ReviewItem.course_id == course_id)
        if assessment_id:
            query = query.where(ReviewItem.assessment_id == assessment_id)
        ordered = query.order_by(ReviewItem.priority, ReviewItem.sla_due_at, ReviewItem.id)
        # Hand-written Core, not a repository service (ADR 0009): a four-table join plus each row's newest AI
        # grade in one batched DISTINCT ON statement: three statements a page, however many rows.
        async with self._tx() as session:
            rows, result = await fetch_page(session, ordered, page)
            grades = await latest_grades(session, [row[0].submission_id for row in rows], ai_only=True)
            return paginated([self._out(row, grades.get(row[0].submission_id)) for row in rows], result)

    async def detail(self, item_id: UUID) -> ReviewDetail:
        async with self._tx() as session:
            row = (await session.execute(self._base().where(ReviewItem.id == item_id))).first()
            if row is None:
                raise NotFound("No such review item")
            item = row[0]
            submission = await session.get(Submission, item.submission_id)
            assessment = await session.get(Assessment, item.assessment_id)
            assert submission is not None
            assert assessment is not None
            grade = await self._ai_grade(session, item.submission_id)
            return ReviewDetail(
                item=self._out(row, grade),
                prompt=str(assessment.spec.get("prompt", "")),
                answer=dict(submission.answer),
                spec=dict(assessment.spec),
                pass_mark=assessment.pass_mark,
                ai_feedback=grade.feedback if grade else "",
                ai_criteria=list(grade.rationale.get("criteria", [])) if grade else [],
                ai_prompt_version=grade.prompt_version if grade else None,
                note=item.decision_reason if item.status == "open" else "",
                rubric_applied=_rubric_applied(assessment, grade),
                tests=_test_results(assessment, grade),
            )

    async def for_submission(self, submission_id: UUID) -> ReviewDetail:
        async with self._tx() as session:
            item_id = await session.scalar(select(ReviewItem.id).where(ReviewItem.submission_id == submission_id))
        if item_id is None:
            raise NotFound("This submission is not in the review queue")
        return await self.detail(item_id)

    # ------------------------------------------------------------------ claiming and deciding

    async def _locked_item(self, session: AsyncSession, item_id: UUID) -> ReviewItem:
        item = await session.get(ReviewItem, item_id, with_for_update=True)
        if item is None:
            raise NotFound("No such review item")
        if item.status != "open":
            raise Conflict("This item has already been decided", extra={"code": "decided"})
        return item

    async def claim(self, item_id: UUID) -> ReviewItemOut:
        """Take the item for ``review_lease_seconds``; yours again extends it; someone else's live lease: 409."""
        now, me = _now(), self.principal.user_id
        async with self._tx() as session:
            item = await self._locked_item(session, item_id)
            held = item.claimed_by is not None and item.lease_expires_at is not None and item.lease_expires_at > now
            if held and item.claimed_by != me:
                raise Conflict(
                    "Someone else is reviewing this item",
                    extra={"code": "claimed", "lease_expires_at": item.lease_expires_at.isoformat()},  # type: ignore[union-attr]
                )
            item.claimed_by = me
            item.lease_expires_at = now + timedelta(seconds=self.lease_seconds)
            await session.flush()
            row = (await session.execute(self._base().where(ReviewItem.id == item_id))).one()
            out = self._out(row, await self._ai_grade(session, item.submission_id))
        await self.events.publish(
            self.principal.org_id, events.ReviewClaimed(submission_id=out.submission_id, reviewer_id=me)
        )
        return out

    async def decide(self, item_id: UUID, data: DecisionIn) -> ReviewItemOut:
        now, me = _now(), self.principal.user_id
        async with self._tx() as session:
            item = await self._locked_item(session, item_id)
            if item.claimed_by != me or item.lease_expires_at is None or item.lease_expires_at <= now:
                raise Conflict("Claim this item first (or your claim has expired)", extra={"code": "lease_not_held"})
            submission = await session.get(Submission, item.submission_id, with_for_update=True)
            assessment = await session.get(Assessment, item.assessment_id)
            assert submission is not None
            assert assessment is not None
            ai_grade = await self._ai_grade(session, item.submission_id)
            final = self._final_grade(data, ai_grade, submission, assessment)
            if final is not ai_grade:
                session.add(final)
            before = {"status": submission.status, "score": ai_grade.score if ai_grade else None}
            item.status, item.decision, item.decided_by, item.decided_at = "decided", data.action, me, now
            item.decision_reason = data.reason
            item.claimed_by, item.lease_expires_at = None, None
            submission.status = "graded"
            await session.flush()
            evidence = await record_grade_progress(session, submission, assessment, final, me)
            after = {"status": "graded", "score": final.score, "decision": data.action, "reason": data.reason}
            record_audit(
                session,
                org_id=submission.org_id,
                actor_id=me,
                action=f"review.{data.action}",
                entity_type="submission",
                entity_id=submission.id,
                before=before,
                after=after,
                request_id=self.request_id,
            )
            if ai_grade is not None:
                session.add(self._pair(submission, assessment, ai_grade, final, data, item.reason))
            row = (await session.execute(self._base().where(ReviewItem.id == item_id))).one()
            out = self._out(row, ai_grade)
            graded = events.SubmissionGraded(
                submission_id=submission.id,
                course_id=assessment.course_id,
                item_id=assessment.item_id,
                user_id=submission.user_id,
                score=final.score,
                max_score=final.max_score,
                graded_by=final.graded_by,
                grader=grader_of(final.graded_by, final.prompt_version, final.rationale),
            )
            decided = events.ReviewDecided(
                submission_id=submission.id, reviewer_id=me, decision=data.action, score=final.score
            )
            await record_event(session, self.principal.org_id, decided)  # webhooks: with the decision
            completed = completed_enrollments(session)
            lti_scores = await record_scores(session, submission, assessment, final)
        await enqueue_credentials(self.jobs, self.settings, completed)
        await enqueue_scores(self.jobs, self.settings, lti_scores)
        await self.events.publish(self.principal.org_id, decided)
        await self.events.publish(self.principal.org_id, graded)
        if evidence is not None:
            await self.events.publish(self.principal.org_id, evidence)
        return out

    def _final_grade(
        self, data: DecisionIn, ai_grade: Grade | None, submission: Submission, assessment: Assessment
    ) -> Grade:
        if data.action == "accept":
            if ai_grade is None:
                raise Conflict("There is no AI grade to accept: override with a score", extra={"code": "no_ai_grade"})
            return ai_grade
        errors = []
        if not data.reason.strip():
            errors.append({"pointer": "#/reason", "detail": "an override needs a reason"})
        max_score = ai_grade.max_score if ai_grade else _max_score(assessment)
        if data.score is None or data.score > max_score:
            errors.append({"pointer": "#/score", "detail": f"give a score between 0 and {max_score:g}"})
        if errors:
            raise ValidationFailed("An override needs a score and a reason", errors=errors)
        assert data.score is not None
        return Grade(
            org_id=submission.org_id,
            submission_id=submission.id,
            score=data.score,
            max_score=max_score,
            passed=passes(data.score, max_score, assessment.pass_mark),
            feedback=data.feedback if data.feedback is not None else (ai_grade.feedback if ai_grade else ""),
            graded_by="human",
            grader_user_id=self.principal.user_id,
            confidence=1.0,
            prompt_version=ai_grade.prompt_version if ai_grade else None,
            rationale={"override_reason": data.reason},
        )

    def _pair(
        self,
        submission: Submission,
        assessment: Assessment,
        ai_grade: Grade,
        final: Grade,
        data: DecisionIn,
        reason: str,
    ) -> AIFeedback:
        return AIFeedback(
            org_id=submission.org_id,
            source="human_review",
            user_id=self.principal.user_id,
            submission_id=submission.id,
            ai_score=ai_grade.score,
            human_score=final.score,
            comment=data.reason,
            details={
                "assessment_id": str(assessment.id),
                "max_score": ai_grade.max_score,
                "pass_mark": assessment.pass_mark,
                "prompt_version": ai_grade.prompt_version,
                "decision": data.action,
                "escalation_reason": reason,
                "ai_confidence": ai_grade.confidence,
            },
        )

    # ------------------------------------------------------------------ metrics and exports

    async def metrics(self) -> ReviewMetrics:
        now = _now()
        async with self._tx() as session:
            depth = await session.scalar(select(func.count()).where(ReviewItem.status == "open")) or 0
            breaches = (
                await session.scalar(
                    select(func.count()).where(
                        or_(
                            (ReviewItem.status == "open") & (ReviewItem.sla_due_at < now),
                            (ReviewItem.status == "decided") & (ReviewItem.decided_at > ReviewItem.sla_due_at),
                        )
                    )
                )
                or 0
            )
            waits = [
                (decided - created).total_seconds() / 60
                for created, decided in await session.execute(
                    select(ReviewItem.created_at, ReviewItem.decided_at).where(
                        ReviewItem.status == "decided", ReviewItem.decided_at.is_not(None)
                    )
                )
                if decided is not None
            ]
            ai_graded = await session.scalar(select(func.count()).where(Grade.graded_by == "ai")) or 0
            escalated = await session.scalar(select(func.count()).where(ReviewItem.reason != "sample")) or 0
            pairs = list(await session.scalars(select(AIFeedback).where(AIFeedback.source == "human_review")))
            titles = dict(
                (
                    await session.execute(select(Assessment.id, Item.title).join(Item, Item.id == Assessment.item_id))
                ).all()
            )
        by_assessment: dict[str, list[AIFeedback]] = defaultdict(list)
        by_version: dict[str, list[AIFeedback]] = defaultdict(list)
        for pair in pairs:
            assessment_id = pair.details.get("assessment_id", "")
            by_assessment[str(titles.get(UUID(assessment_id), assessment_id)) if assessment_id else "?"].append(pair)
            by_version[str(pair.details.get("prompt_version") or "none")].append(pair)
        overall = _agreement("all", pairs)
        return ReviewMetrics(
            queue_depth=depth,
            sla_breaches=breaches,
            median_minutes_to_review=round(m, 2) if (m := median(waits)) is not None else None,
            escalation_rate=round(escalated / ai_graded, 4) if ai_graded else None,
            exact_agreement=overall.exact_agreement,
            kappa=overall.kappa,
            by_assessment=[_agreement(k, v) for k, v in sorted(by_assessment.items())],
            by_prompt_version=[_agreement(k, v) for k, v in sorted(by_version.items())],
        )

    async def corrections(self) -> AsyncIterator[bytes]:
        """One JSON line per human correction (overrides), oldest first, for prompt tuning."""
        async with self._tx() as session:
            rows = await session.execute(
                select(AIFeedback, Submission.answer)
                .join(Submission, Submission.id == AIFeedback.submission_id)
                .where(AIFeedback.source == "human_review")
                .order_by(AIFeedback.created_at)
            )
            lines = [
                _encoder.encode(
                    {
                        "submission_id": pair.submission_id,
                        "assessment_id": pair.details.get("assessment_id"),
                        "prompt_version": pair.details.get("prompt_version"),
                        "decision": pair.details.get("decision"),
                        "answer": answer,
                        "ai_score": pair.ai_score,
                        "human_score": pair.human_score,
                        "max_score": pair.details.get("max_score"),
                        "reason": pair.comment,
                        "at": pair.created_at,
                    }
                )
                + b"\n"
                for pair, answer in rows
            ]
        for line in lines:
            yield line


def _max_score(assessment: Assessment) -> float:
    spec = assessment.spec
    if assessment.kind == "multiple_choice":
        return float(sum(float(q.get("points", 1.0)) for q in spec.get("questions", [])))
    if assessment.kind == "short_answer":
        return float(sum(max(lv["points"] for lv in c["levels"]) for c in spec["rubric"]["criteria"]))
    return CODE_POINTS


def _rubric_applied(assessment: Assessment, grade: Grade | None) -> bool:
    """Short answers are graded on their rubric; code only when a model added style feedback with it (the
    tests decide the score); multiple choice never."""
    if assessment.kind == "short_answer":
        return bool(assessment.spec.get("rubric"))
    if assessment.kind == "code":
        return grade is not None and bool(grade.rationale.get("criteria")) and bool(assessment.spec.get("rubric"))
    return False


_TEST_NAME = re.compile(r"(?:.*::)?([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*)\])?$")


class _TestSource(msgspec.Struct):
    checks: list[str]  # the assert statements (and ``with pytest.raises(...)`` lines), as written
    argnames: str = ""  # a parametrised test's argument names
    cases: list[str] = msgspec.field(default_factory=list)  # and its parameter sets, in order


def _segment(source: str, node: ast.AST) -> str:
    return " ".join((ast.get_source_segment(source, node) or "").split())[:500]


def _parametrize(source: str, decorator: ast.expr) -> tuple[str, list[str]] | None:
    if not (isinstance(decorator, ast.Call) and "parametrize" in _segment(source, decorator.func)):
        return None
    if len(decorator.args) < 2 or not isinstance(decorator.args[1], ast.List | ast.Tuple):
        return None
    names = decorator.args[0]
    argnames = names.value if isinstance(names, ast.Constant) and isinstance(names.value, str) else ""
    return argnames, [_segment(source, element) for element in decorator.args[1].elts]


def _test_sources(source: str) -> dict[str, _TestSource]:
    """Each test function's checks and parameter sets, read from the hidden tests (never run here)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, _TestSource] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.name.startswith("test"):
            continue
        checks = []
        for inner in ast.walk(node):
            if isinstance(inner, ast.Assert):
                checks.append(_segment(source, inner))
            elif isinstance(inner, ast.With) and "raises" in _segment(source, inner.items[0].context_expr):
                checks.append(f"with {_segment(source, inner.items[0].context_expr)}:")
        test = _TestSource(checks=[c for c in checks if c][:20])
        for decorator in node.decorator_list:
            if (parsed := _parametrize(source, decorator)) is not None:
                test.argnames, test.cases = parsed
        found[node.name] = test
    return found


def _checks_for(name: str, sources: dict[str, _TestSource]) -> list[str]:
    match = _TEST_NAME.match(name)
    test = sources.get(match.group(1)) if match else None
    if test is None:
        return []
    case_id = (match.group(2) if match else None) or ""
    index = re.search(r"(\d+)$", case_id)
    if test.cases and index and int(index.group(1)) < len(test.cases):
        return [f"{test.argnames or 'case'} = {test.cases[int(index.group(1))]}", *test.checks]
    return test.checks


def _test_results(assessment: Assessment, grade: Grade | None) -> list[TestResultOut]:
    """Every hidden test the sandbox ran, with what it checks; staff only (the review API is)."""
    if assessment.kind != "code" or grade is None:
        return []
    sources = _test_sources(str(assessment.spec.get("hidden_tests", "")))
    return [
        TestResultOut(
            name=str(test.get("name", "")),
            passed=bool(test.get("passed")),
            message=str(test.get("message", "")),
            checks=_checks_for(str(test.get("name", "")), sources),
            **{k: str(test.get(k, "")) for k in ("assertion", "expected", "actual", "params")},
        )
        for test in grade.rationale.get("tests", []) or []
        if isinstance(test, dict)
    ]


def _agreement(key: str, pairs: list[AIFeedback]) -> AgreementOut:
    scores = [(p.ai_score or 0.0, p.human_score or 0.0) for p in pairs]

    def passed(score: float, pair: AIFeedback) -> str:
        maximum = float(pair.details.get("max_score") or 1.0)
        return "pass" if passes(score, maximum, float(pair.details.get("pass_mark") or 0.7)) else "fail"

    labels = [(passed(p.ai_score or 0.0, p), passed(p.human_score or 0.0, p)) for p in pairs]
    return AgreementOut(key=key, pairs=len(pairs), exact_agreement=exact_agreement(scores), kappa=cohens_kappa(labels))
