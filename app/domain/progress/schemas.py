from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from app.domain.mastery.gates import MissingCompetency


class ItemProgress(msgspec.Struct):
    item_id: UUID
    state: str  # "done", "unlocked" or "locked"
    missing_prerequisites: list[UUID]
    # Competency gates not met yet (locked until mastery reaches each threshold).
    missing_competencies: list[MissingCompetency] = []


class CourseProgress(msgspec.Struct):
    """The caller's progress on one course, folded from their progress events."""

    course_id: UUID
    enrollment_id: UUID | None
    enrolled: bool
    total_items: int
    completed_items: int
    percent: int  # 0-100, rounded down so 100 means every item is done
    items: list[ItemProgress]
    next_item_id: UUID | None  # the first unlocked item not yet done, in course order
    completed_at: datetime | None = None


class CompletionOut(msgspec.Struct):
    item_id: UUID
    event_version: int
    progress: CourseProgress


class PositionIn(msgspec.Struct, forbid_unknown_fields=True):
    item_id: UUID


class CourseResume(msgspec.Struct):
    """One enrolled course on "My learning": how far, and where "Continue" goes."""

    enrollment_id: UUID
    course_id: UUID
    course_title: str
    status: str
    percent: int
    completed_items: int
    total_items: int
    resume_item_id: UUID | None  # the item last opened if it is not done yet, else the next item to do
    resume_item_title: str = ""
    next_item_id: UUID | None = None  # the first unlocked item not yet done
    next_item_title: str = ""
    last_opened_at: datetime | None = None


class LearnerSubmission(msgspec.Struct):
    """A submission of the caller's, for "pending reviews" and "recent grades"."""

    submission_id: UUID
    course_id: UUID
    course_title: str
    item_id: UUID
    item_title: str
    status: str
    submitted_at: datetime
    review_due_at: datetime | None = None
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    graded_at: datetime | None = None


class LearningOverview(msgspec.Struct):
    courses: list[CourseResume]
    pending_reviews: list[LearnerSubmission]  # in review by a person, oldest first
    recent_grades: list[LearnerSubmission]  # the last few final grades, newest first
