from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class MasteryItem(msgspec.Struct):
    """The caller's estimate of one competency of a course (Bayesian Knowledge Tracing)."""

    competency_id: UUID
    slug: str
    name: str
    mastery: float  # 0-1: the probability the learner has mastered it (the prior before any evidence)
    attempts: int  # graded attempts and completed exercises counted as evidence
    last_evidence_at: datetime | None  # null before any evidence


class MasteryOut(msgspec.Struct):
    items: list[MasteryItem]
