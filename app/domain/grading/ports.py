"""What grading needs from other domains, as small interfaces it owns (issue 11): the composition root
(app/server/components.py) plugs in the implementations, so grading imports none of those domains."""

from __future__ import annotations

from typing import Protocol

from app.db.models import Assessment, ReviewItem, Submission


class ReviewQueue(Protocol):
    """The review queue's side of an escalation (implemented by app/domain/review/queue.py): it decides a
    new item's priority and deadline; grading adds the row inside its own transaction and sets the status
    and the reasons it knows."""

    def open(self, submission: Submission, assessment: Assessment, reason: str) -> ReviewItem:
        """A new open item for the submission (not yet added to a session)."""
        ...

    def reprioritise(self, review: ReviewItem, reason: str) -> None:
        """An open item is now wanted for another reason (e.g. the learner disagreed with its grade)."""
        ...
