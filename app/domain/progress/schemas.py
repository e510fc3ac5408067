from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class ItemProgress(msgspec.Struct):
    item_id: UUID
    state: str  # "done", "unlocked" or "locked"
    missing_prerequisites: list[UUID]


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
