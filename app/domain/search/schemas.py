from __future__ import annotations

from uuid import UUID

import msgspec


class SearchHit(msgspec.Struct):
    """One item found by ``GET /v1/search`` (a contract). ``snippet`` is HTML-escaped text of the passage
    that matched best, with the query's words wrapped in ``<mark>``...``</mark>``; ``score`` is the
    reciprocal-rank-fusion score (higher is better; comparable within one result list only)."""

    item_id: UUID
    course_id: UUID
    title: str
    snippet: str
    score: float
