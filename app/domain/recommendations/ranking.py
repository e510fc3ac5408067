"""The next-best-step ranking: a pure function from what is known about a learner in one course to at most
three items, each with a reason in words. No I/O here, so every kind of reason is unit-tested with
hand-made inputs (tests/unit/recommendations/test_ranking.py) and the services only gather the data.

Signals, in priority order (a signal with nothing to say is skipped):

1. **weak competencies** (mastery): "You struggled with *<name>* in <item>; this lesson covers it",
   pointing at an unlocked lesson that teaches the competency (not done first, else one to revisit);
2. **due reviews** (spaced review): "Due for review: <name>", pointing at the first unlocked item that
   teaches the competency (done or not: a review revisits);
3. **recent tutor questions**: "You asked about *<topic>*; this lesson covers it", pointing at the best
   unlocked, not yet done item the content index found for the question;
4. **the pathway**: "Next in the pathway", the first unlocked items not yet done, in course order.

A first round takes the best candidate of each signal (so a learner with a weak competency still sees
where the pathway goes next), a second round fills the remaining places in the same order. An item is
recommended once, with the reason of the first signal that chose it. A locked item (unfinished
prerequisites; later also a competency gate) is never recommended.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

MAX_RECOMMENDATIONS = 3
PATHWAY_REASON = "Next in the pathway"
TOPIC_WORDS = 8  # words of a tutor question quoted in a reason

Signal = Literal["weak", "review", "asked", "pathway"]


@dataclass(frozen=True, slots=True)
class PathwayItem:
    """One item of the course outline, in course order, with the learner's state on it."""

    item_id: UUID
    title: str
    kind: str  # lesson | exercise | assessment
    done: bool
    locked: bool  # unfinished prerequisites (and, once gates exist, a closed gate)
    competencies: tuple[UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class WeakCompetency:
    """A competency the learner's mastery estimate says they struggle with (lowest mastery first)."""

    competency_id: UUID
    slug: str
    name: str
    mastery: float  # 0..1
    last_item_title: str  # where the evidence came from (the quiz or exercise), "" when unknown


@dataclass(frozen=True, slots=True)
class DueReview:
    """A competency whose spaced-review card is due (earliest first)."""

    competency_id: UUID
    name: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    """One of the learner's recent tutor questions in the course, with the items that answer it best first
    (the content index's ranking of the question, restricted to the course)."""

    question: str
    item_ids: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class Recommendation:
    item_id: UUID
    title: str
    reason: str
    signal: Signal


def topic_of(question: str, words: int = TOPIC_WORDS) -> str:
    """A question shortened for a reason: its first sentence, at most ``words`` words, no end mark."""
    text = " ".join(question.split())
    for mark in ("? ", ". ", "! ", "\n"):
        text = text.split(mark, 1)[0]
    text = text.rstrip("?.!:;, ")
    parts = text.split(" ")
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


NOUNS = {"lesson": "this lesson", "exercise": "this exercise", "assessment": "this assessment"}


def _noun(kind: str) -> str:
    return NOUNS.get(kind, "this item")


def _teaching(pathway: Sequence[PathwayItem], competency_id: UUID) -> list[PathwayItem]:
    """Unlocked items teaching ``competency_id``: lessons first, then exercises, then assessments; each
    group in course order."""
    order = {"lesson": 0, "exercise": 1}
    found = [p for p in pathway if not p.locked and competency_id in p.competencies]
    return sorted(found, key=lambda p: order.get(p.kind, 2))  # stable: course order within a kind


def _weak(pathway: Sequence[PathwayItem], weak: Sequence[WeakCompetency]) -> Iterator[Recommendation]:
    for competency in weak:
        teaching = _teaching(pathway, competency.competency_id)
        # A lesson not done yet is the better answer; a done one is still worth a second read.
        pick = next((p for p in teaching if not p.done and p.kind != "assessment"), None) or next(
            (p for p in teaching if p.kind != "assessment"), None
        )
        if pick is None:
            continue
        where = f" in {competency.last_item_title}" if competency.last_item_title else ""
        reason = f"You struggled with *{competency.name}*{where}; {_noun(pick.kind)} covers it"
        yield Recommendation(pick.item_id, pick.title, reason, "weak")


def _reviews(pathway: Sequence[PathwayItem], due: Sequence[DueReview]) -> Iterator[Recommendation]:
    for review in due:
        pick = next(iter(_teaching(pathway, review.competency_id)), None)
        if pick is not None:
            yield Recommendation(pick.item_id, pick.title, f"Due for review: {review.name}", "review")


def _asked(pathway: Sequence[PathwayItem], asked: Sequence[AskedQuestion]) -> Iterator[Recommendation]:
    open_items = {p.item_id: p for p in pathway if not p.done and not p.locked}
    for question in asked:
        pick = next((open_items[i] for i in question.item_ids if i in open_items), None)
        topic = topic_of(question.question)
        if pick is not None and topic:
            reason = f"You asked about *{topic}*; {_noun(pick.kind)} covers it"
            yield Recommendation(pick.item_id, pick.title, reason, "asked")


def _pathway(pathway: Sequence[PathwayItem]) -> Iterator[Recommendation]:
    for p in pathway:
        if not p.done and not p.locked:
            yield Recommendation(p.item_id, p.title, PATHWAY_REASON, "pathway")


def recommend(
    pathway: Sequence[PathwayItem],
    weak: Sequence[WeakCompetency] = (),
    due: Sequence[DueReview] = (),
    asked: Sequence[AskedQuestion] = (),
    limit: int = MAX_RECOMMENDATIONS,
) -> list[Recommendation]:
    """At most ``limit`` distinct items with reasons (see the module docstring for the order)."""
    signals = [
        list(_weak(pathway, weak)),
        list(_reviews(pathway, due)),
        list(_asked(pathway, asked)),
        list(_pathway(pathway)),
    ]
    chosen: dict[UUID, Recommendation] = {}
    # Round one: the best new candidate of each signal; round two: the rest, signal by signal.
    for candidates in signals:
        pick = next((c for c in candidates if c.item_id not in chosen), None)
        if pick is not None and len(chosen) < limit:
            chosen[pick.item_id] = pick
    for candidates in signals:
        for candidate in candidates:
            if len(chosen) >= limit:
                break
            chosen.setdefault(candidate.item_id, candidate)
    return list(chosen.values())[:limit]
