"""Assessment and submission shapes at the API edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

AnswerText = Annotated[str, msgspec.Meta(min_length=1, max_length=200_000)]


class SubmissionIn(msgspec.Struct, forbid_unknown_fields=True):
    """One of the three, matching the assessment's kind: ``choices`` (multiple choice: the chosen option
    index per question, in order), ``text`` (short answer) or ``code`` (Python)."""

    choices: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=100)]], msgspec.Meta(max_length=200)] | None = None
    text: AnswerText | None = None
    code: AnswerText | None = None


class SubmissionAccepted(msgspec.Struct):
    """The stored answer. ``status`` is ``queued`` for work the worker grades (AI, code); an exact-answer
    assessment (multiple choice) is graded before the response, and ``submission`` then carries the result
    exactly as GET /v1/submissions/{id} shows it (null while the answer is still queued)."""

    id: UUID
    status: str
    submission: SubmissionOut | None = None


class DisagreeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=2000)]


class CriterionResult(msgspec.Struct):
    criterion: str
    points: float
    max_points: float
    rationale: str


class QuestionMark(msgspec.Struct):
    """One multiple-choice question's mark, shown under that question once graded."""

    question: int  # 1-based, in the assessment's order
    correct: bool
    points: float
    max_points: float
    explanation: str = ""


class SubmittedAnswer(msgspec.Struct, omit_defaults=True):
    """What was submitted, so the learner's page can show the last attempt after a reload."""

    choices: list[int] | None = None
    text: str | None = None
    code: str | None = None


class SubmissionOut(msgspec.Struct):
    id: UUID
    assessment_id: UUID
    user_id: UUID
    status: str  # queued | grading | graded | in_review | failed
    created_at: datetime
    updated_at: datetime
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    feedback: str = ""
    graded_by: str | None = None  # ai | human | auto
    # Which grader decided: answer_key | unit_tests | ai_model | offline_keywords | person (grader_label: in words)
    grader: str | None = None
    confidence: float | None = None
    criteria: list[CriterionResult] = msgspec.field(default_factory=list)
    detail: str = ""  # why it failed, when status is failed
    in_review: bool = False
    review_due_at: datetime | None = None  # while a person reviews it: when they aim to have decided
    grader_label: str = ""  # the same, in the learner's words ("the answer key", "the automatic tests", ...)
    questions: list[QuestionMark] = msgspec.field(default_factory=list)  # multiple choice, once graded
    answer: SubmittedAnswer | None = None  # what was submitted (the owner's and staff's view)


class VisibleTestOut(msgspec.Struct):
    """One visible test's outcome, with what it compared (visible tests may show their values)."""

    name: str
    passed: bool
    message: str
    assertion: str = ""
    expected: str = ""
    actual: str = ""
    params: str = ""


class TestRunIn(msgspec.Struct, forbid_unknown_fields=True):
    code: AnswerText


class TestRunOut(msgspec.Struct):
    """A practice run of the visible tests: nothing is graded or recorded."""

    __test__ = False  # not a pytest test class
    status: str  # ok | timeout | memory | output_limit | crashed | error
    passed: int
    total: int
    tests: list[VisibleTestOut]
    detail: str = ""
    stdout: str = ""
    duration_ms: float = 0.0


class AssessmentOut(msgspec.Struct):
    """What a learner may see: questions and rubric criteria, never answers or hidden tests."""

    id: UUID
    item_id: UUID
    course_id: UUID
    kind: str
    graded: bool
    pass_mark: float
    objectives: list[str]
    spec: dict[str, Any]


class DeadLetterOut(msgspec.Struct):
    id: UUID
    job_key: str
    function: str
    submission_id: UUID | None
    attempts: int
    reason: str
    created_at: datetime
