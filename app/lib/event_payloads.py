"""Every event type on the bus and its payload, defined once (the contract is docs/events.md).

One frozen msgspec Struct per event type. Publishers construct the struct (``EventBus.publish(org_id,
SubmissionGraded(...))``); the bus encodes it as the event's ``data``, fields in declaration order, so the
JSON on the wire is exactly what the hand-built dicts used to produce (UUIDs encode as their canonical
strings). Readers get ``FeedEvent.data`` as a dict (the wire shape) and ``FeedEvent.payload()`` as the
typed struct. ``TypedFeedEvent`` (below) documents the feed's events in OpenAPI, so the web app's
generated types (``frontend/src/api``) carry the same shapes.

Never put learner text, names or e-mail addresses in a payload: ids, numbers and codes only.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Final, Literal, TypeAlias
from uuid import UUID

import msgspec

__all__ = [
    "ALERT_FIRED",
    "ASSESSMENT_GRADED",
    "BUDGET_ALERT",
    "COURSE_COMPLETED",
    "CREDENTIAL_ISSUED",
    "CREDENTIAL_REVOKED",
    "ENROLLMENT_CREATED",
    "EVENT_TYPES",
    "ITEM_COMPLETED",
    "PAYLOADS",
    "REVIEW_CLAIMED",
    "REVIEW_DECIDED",
    "SUBMISSION_ESCALATED",
    "SUBMISSION_GRADED",
    "TUTOR_BLOCKED",
    "TUTOR_SESSION_STARTED",
    "USER_PROVISIONED",
    "AlertFired",
    "AssessmentGraded",
    "BudgetAlert",
    "CourseCompleted",
    "CredentialIssued",
    "CredentialRevoked",
    "EnrollmentCreated",
    "EventPayload",
    "GuardrailOutcome",
    "ItemCompleted",
    "ReviewClaimed",
    "ReviewDecided",
    "SubmissionEscalated",
    "SubmissionGraded",
    "TutorBlocked",
    "TutorSessionStarted",
    "TypedFeedEvent",
    "UserProvisioned",
]

SUBMISSION_ESCALATED: Final = "submission.escalated"
SUBMISSION_GRADED: Final = "submission.graded"
REVIEW_CLAIMED: Final = "review.claimed"
REVIEW_DECIDED: Final = "review.decided"
TUTOR_SESSION_STARTED: Final = "tutor.session_started"
TUTOR_BLOCKED: Final = "tutor.blocked"
BUDGET_ALERT: Final = "budget.alert"
ALERT_FIRED: Final = "alert.fired"
ASSESSMENT_GRADED: Final = "assessment.graded"
CREDENTIAL_ISSUED: Final = "credential.issued"
CREDENTIAL_REVOKED: Final = "credential.revoked"


class EventPayload(msgspec.Struct, frozen=True):
    """The ``data`` of one event type; ``TYPE`` is the event's name on the bus."""

    TYPE: ClassVar[str]


class SubmissionEscalated(EventPayload, frozen=True):
    """AI grading was not confident enough (or the learner disputed): the submission went to human review."""

    TYPE: ClassVar[str] = SUBMISSION_ESCALATED
    submission_id: UUID
    course_id: UUID
    item_id: UUID
    user_id: UUID
    reason: str  # e.g. "low_confidence", "grader_error", "disagreement"
    confidence: float | None  # 0-1; null when no AI grade was involved


class SubmissionGraded(EventPayload, frozen=True):
    """A submission received its grade, by the answer key, the AI or a reviewer."""

    TYPE: ClassVar[str] = SUBMISSION_GRADED
    submission_id: UUID
    course_id: UUID
    item_id: UUID
    user_id: UUID
    score: float
    max_score: float
    graded_by: str  # "auto", "ai" or "human"
    grader: str  # "answer_key", "unit_tests", "ai_model", "offline_keywords" or "person"


class AssessmentGraded(EventPayload, frozen=True):
    """A final grade (answer key, AI, or a reviewer's decision) was recorded as mastery evidence: the same
    grade as the ``assessment.graded`` progress event (idempotency key ``assessment.graded:<grade_id>``).
    The durable record is that progress event; this is the live announcement."""

    TYPE: ClassVar[str] = ASSESSMENT_GRADED
    grade_id: UUID
    submission_id: UUID
    course_id: UUID
    item_id: UUID
    user_id: UUID
    competency_ids: list[UUID]
    score: float
    max_score: float
    passed: bool


class ReviewClaimed(EventPayload, frozen=True):
    TYPE: ClassVar[str] = REVIEW_CLAIMED
    submission_id: UUID
    reviewer_id: UUID


class ReviewDecided(EventPayload, frozen=True):
    TYPE: ClassVar[str] = REVIEW_DECIDED
    submission_id: UUID
    reviewer_id: UUID
    decision: Literal["accept", "override"]
    score: float


class TutorSessionStarted(EventPayload, frozen=True):
    TYPE: ClassVar[str] = TUTOR_SESSION_STARTED
    session_id: UUID
    user_id: UUID
    course_id: UUID
    item_id: UUID | None
    mode: str  # "socratic", "hint" or "explain"


class GuardrailOutcome(msgspec.Struct, frozen=True):
    name: str
    action: str


class TutorBlocked(EventPayload, frozen=True):
    """A learner's message or the tutor's reply was blocked (never the learner's text)."""

    TYPE: ClassVar[str] = TUTOR_BLOCKED
    session_id: UUID
    interaction_id: UUID
    user_id: UUID
    course_id: UUID
    item_id: UUID | None
    policy: str  # injection, pii, off_topic, length, answer_leak, blocked_term, budget
    stage: Literal["input", "output", "budget"]
    reason: str  # which guardrail signals fired
    guardrails: list[GuardrailOutcome]


class BudgetAlert(EventPayload, frozen=True):
    """A tutor token budget reached ``threshold`` of its limit; once per scope and period."""

    TYPE: ClassVar[str] = BUDGET_ALERT
    scope: Literal["org", "course", "user", "session"]
    threshold: float
    used_tokens: int
    limit_tokens: int
    period_ends_at: str | None  # ISO time (as ``datetime.isoformat()``), null for a session
    course_id: UUID
    user_id: UUID
    session_id: UUID  # the turn that crossed it


class AlertFired(EventPayload, frozen=True):
    """An org's alert rule (cost burn rate, rating drop, guardrail spike, grading disagreement) crossed its
    threshold over its window; once per firing (the alert stays open until the metric is back under it)."""

    TYPE: ClassVar[str] = ALERT_FIRED
    alert_id: UUID
    rule_id: UUID
    kind: Literal["cost_burn_rate", "rating_drop", "guardrail_spike", "grading_disagreement"]
    value: float
    threshold: float
    window_minutes: int


class CredentialIssued(EventPayload, frozen=True):
    """An Open Badges credential was issued for a completed enrolment (after the commit; once per enrolment)."""

    TYPE: ClassVar[str] = CREDENTIAL_ISSUED
    credential_id: UUID
    course_id: UUID
    user_id: UUID


class CredentialRevoked(EventPayload, frozen=True):
    """Staff revoked a credential; its status-list bit is set and the list re-signed (after the commit)."""

    TYPE: ClassVar[str] = CREDENTIAL_REVOKED
    credential_id: UUID
    course_id: UUID
    user_id: UUID
    reason: str  # the staff member's stated reason (about the credential, not learner text)


# Events that only webhooks carry (issue 16; docs/webhooks.md): not on the live bus, so not in PAYLOADS.
ENROLLMENT_CREATED: Final = "enrollment.created"
ITEM_COMPLETED: Final = "item.completed"
COURSE_COMPLETED: Final = "course.completed"
USER_PROVISIONED: Final = "user.provisioned"


class EnrollmentCreated(EventPayload, frozen=True):
    """A learner enrolled in a course (through the API or an LMS launch)."""

    TYPE: ClassVar[str] = ENROLLMENT_CREATED
    enrollment_id: UUID
    course_id: UUID
    user_id: UUID


class ItemCompleted(EventPayload, frozen=True):
    """An item was completed: a lesson or exercise marked done, or an assessment passed."""

    TYPE: ClassVar[str] = ITEM_COMPLETED
    enrollment_id: UUID
    course_id: UUID
    item_id: UUID
    user_id: UUID
    kind: str  # "lesson", "exercise" or "assessment"


class CourseCompleted(EventPayload, frozen=True):
    """Every item of an enrolment's course is done: the enrolment completed (once)."""

    TYPE: ClassVar[str] = COURSE_COMPLETED
    enrollment_id: UUID
    course_id: UUID
    user_id: UUID
    completed_at: datetime


class UserProvisioned(EventPayload, frozen=True):
    """A new account was created on first sign-in through an LMS (LTI) or an identity provider (SSO)."""

    TYPE: ClassVar[str] = USER_PROVISIONED
    user_id: UUID
    role: str
    source: Literal["lti", "oidc", "saml"]


PAYLOADS: Final[dict[str, type[EventPayload]]] = {
    cls.TYPE: cls
    for cls in (
        SubmissionEscalated,
        SubmissionGraded,
        AssessmentGraded,
        ReviewClaimed,
        ReviewDecided,
        TutorSessionStarted,
        TutorBlocked,
        BudgetAlert,
        AlertFired,
        CredentialIssued,
        CredentialRevoked,
    )
}
EVENT_TYPES: Final = frozenset(PAYLOADS)


# The feed's events as OpenAPI documents them (and so the web app's generated types): the FeedEvent
# envelope, tagged by ``type``, with that type's payload. Documentation only: the wire is the same
# ``{"id", "type", "org_id", "at", "data"}`` object (app.lib.events.FeedEvent) in the same key order.
class _FeedEnvelope(msgspec.Struct, frozen=True, tag_field="type"):
    id: str  # the Redis stream id "<ms>-<seq>": resume from it
    org_id: UUID
    at: datetime


class SubmissionEscalatedEvent(_FeedEnvelope, frozen=True, tag=SUBMISSION_ESCALATED):
    data: SubmissionEscalated


class SubmissionGradedEvent(_FeedEnvelope, frozen=True, tag=SUBMISSION_GRADED):
    data: SubmissionGraded


class AssessmentGradedEvent(_FeedEnvelope, frozen=True, tag=ASSESSMENT_GRADED):
    # Not (yet) a member of ``TypedFeedEvent``: adding a oneOf entry changes the published OpenAPI
    # document, which the contract test refuses without a deliberate baseline refresh (coordinator).
    data: AssessmentGraded


class ReviewClaimedEvent(_FeedEnvelope, frozen=True, tag=REVIEW_CLAIMED):
    data: ReviewClaimed


class ReviewDecidedEvent(_FeedEnvelope, frozen=True, tag=REVIEW_DECIDED):
    data: ReviewDecided


class TutorSessionStartedEvent(_FeedEnvelope, frozen=True, tag=TUTOR_SESSION_STARTED):
    data: TutorSessionStarted


class TutorBlockedEvent(_FeedEnvelope, frozen=True, tag=TUTOR_BLOCKED):
    data: TutorBlocked


class BudgetAlertEvent(_FeedEnvelope, frozen=True, tag=BUDGET_ALERT):
    data: BudgetAlert


class AlertFiredEvent(_FeedEnvelope, frozen=True, tag=ALERT_FIRED):
    data: AlertFired


TypedFeedEvent: TypeAlias = (
    SubmissionEscalatedEvent
    | SubmissionGradedEvent
    | ReviewClaimedEvent
    | ReviewDecidedEvent
    | TutorSessionStartedEvent
    | TutorBlockedEvent
    | BudgetAlertEvent
    | AlertFiredEvent
)
