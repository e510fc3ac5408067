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


class Passage(msgspec.Struct, frozen=True):
    """One retrieved chunk for grounding the tutor: where it comes from, its full text (for the model) and
    its ``ts_headline`` passage as plain text (for the learner's source link); ``score`` as in SearchHit."""

    chunk_id: str
    item_id: UUID
    course_id: UUID
    title: str
    heading: str
    content: str
    snippet: str
    score: float
    source: str = "lesson"  # what the chunk is of: lesson, exercise, assessment, prompt, module


class Passages(msgspec.Struct, frozen=True):
    """The best passages for a text; ``vector`` is False when Chroma failed or was too slow (text only)."""

    passages: list[Passage]
    vector: bool = True
