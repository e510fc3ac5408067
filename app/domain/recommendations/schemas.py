from __future__ import annotations

from uuid import UUID

import msgspec


class NextItem(msgspec.Struct):
    """A recommended next step (a contract): ``reason`` is a sentence for the learner; a competency or
    topic in it is wrapped in ``*asterisks*`` (emphasis; plain text otherwise, never HTML)."""

    item_id: UUID
    title: str
    reason: str


class NextItems(msgspec.Struct):
    """``GET /v1/courses/{course_id}/next``: at most three, best first; empty when there is nothing to do."""

    items: list[NextItem]


class RelatedItem(msgspec.Struct):
    """An item related by meaning (a contract); ``score`` is the search ranking's fused score (higher is
    closer; comparable within one list only)."""

    item_id: UUID
    course_id: UUID
    title: str
    score: float


class RelatedItems(msgspec.Struct):
    """``GET /v1/items/{item_id}/related``: best first, from the caller's enrolled courses."""

    items: list[RelatedItem]
