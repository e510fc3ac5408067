"""The progress ledger: what a row of ``progress_events`` (a learner's append-only history, stored in
PostgreSQL, never published on the event bus) can say, and the fold from those rows to completed items.
No other domain imports."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from app.db.models import ProgressEvent

# Event types that mark an item done. Lessons and exercises are completed by the learner; an assessment
# only by a passing grade (the grading pipeline appends ``assessment.passed`` with the item id).
COMPLETION_EVENTS = ("item.completed", "assessment.passed")


def completed_items(events: Iterable[ProgressEvent]) -> set[UUID]:
    """Fold a stream into the ids of items done. Unknown event types are ignored (forward compatible)."""
    done: set[UUID] = set()
    for event in events:
        item_id = event.payload.get("item_id") if event.type in COMPLETION_EVENTS else None
        if isinstance(item_id, str):
            done.add(UUID(item_id))
    return done
