"""Review queue shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec


class ReviewItemOut(msgspec.Struct):
    id: UUID
    submission_id: UUID
    assessment_id: UUID
    course_id: UUID
    learner_id: UUID
    assessment_kind: str
    item_title: str
    reason: str  # low_confidence | sample | disagreement | grader_error
    priority: int  # 0 most urgent
    status: str  # open | decided
    created_at: datetime
    sla_due_at: datetime
    sla_breached: bool
    claimed_by: UUID | None
    lease_expires_at: datetime | None
    ai_score: float | None
    max_score: float | None
    ai_confidence: float | None
    # Which grader produced the grade under review: answer_key | unit_tests | ai_model | offline_keywords
    grader: str | None = None
    dispute_reason: str = ""  # the learner's own words when the reason is ``disagreement``
    decision: str | None = None
    decided_by: UUID | None = None
    decided_at: datetime | None = None


class TestResultOut(msgspec.Struct):
    """One hidden test of a code task: its outcome, the checks it makes (from the test source) and, for a
    failure, what the sandbox recorded (the failing assertion, expected and actual values, parameters)."""

    name: str
    passed: bool
    message: str = ""
    checks: list[str] = msgspec.field(default_factory=list)  # the test's assert statements, as written
    assertion: str = ""
    expected: str = ""
    actual: str = ""
    params: str = ""


class ReviewDetail(msgspec.Struct):
    """Everything a reviewer needs side by side: the answer, the rubric and the AI's rationale."""

    item: ReviewItemOut
    prompt: str
    answer: dict[str, Any]
    spec: dict[str, Any]  # the full spec: rubric, exemplars, hidden tests (staff only)
    pass_mark: float
    ai_feedback: str
    ai_criteria: list[dict[str, Any]]
    ai_prompt_version: str | None
    note: str  # why it was escalated, e.g. the grader's malformed output
    rubric_applied: bool = False  # whether the rubric in ``spec`` took part in this grade
    tests: list[TestResultOut] = msgspec.field(default_factory=list)  # code tasks: every hidden test


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    """Accept the AI grade, or override it with a score, feedback and a reason (required)."""

    action: Literal["accept", "override"]
    score: Annotated[float, msgspec.Meta(ge=0)] | None = None
    feedback: Annotated[str, msgspec.Meta(max_length=10_000)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class AgreementOut(msgspec.Struct):
    key: str  # assessment title, or prompt version
    pairs: int
    exact_agreement: float | None
    kappa: float | None  # Cohen's kappa on pass/fail


class ReviewMetrics(msgspec.Struct):
    queue_depth: int
    sla_breaches: int  # open past due, plus decided after due
    median_minutes_to_review: float | None
    escalation_rate: float | None  # submissions sent to review (excluding random samples) / graded by AI
    exact_agreement: float | None
    kappa: float | None
    by_assessment: list[AgreementOut]
    by_prompt_version: list[AgreementOut]
