"""The review question bank: the questions of a course's assessments that cover a competency; pure.

Multiple-choice questions are the natural review items (the learner picks an option, the answer key
grades it: right is Good, wrong is Again). A short-answer prompt is self-rated: the learner answers for
themselves, sees what a good answer covers (the rubric's criteria) and rates their recall. Code
assessments are not review material. Which question a card asks is ``bank[reps % len(bank)]``: it
rotates with every answer and is the same for the same card state (stable tests, no randomness)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

QuestionKind = Literal["multiple_choice", "self_rated"]
REVIEWABLE_KINDS = ("multiple_choice", "short_answer")


@dataclass(frozen=True, slots=True)
class BankRow:
    """An assessment item covering a competency, as read from the database."""

    item_id: UUID
    item_slug: str
    item_title: str
    kind: str  # assessments.kind
    spec: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BankQuestion:
    ref: str  # "<item slug>#<question index>" (multiple choice) or "<item slug>#prompt" (short answer)
    kind: QuestionKind
    prompt: str
    options: tuple[str, ...]
    answer: int | None  # the key; never sent before the learner answers
    explanation: str  # likewise
    item_id: UUID
    item_title: str


def _criteria(spec: dict[str, Any]) -> str:
    rubric = spec.get("rubric") or {}
    lines = [
        f"{c.get('name', '')}: {c.get('description', '')}".strip(": ")
        for c in rubric.get("criteria", [])
        if isinstance(c, dict)
    ]
    return "A good answer covers — " + "; ".join(line for line in lines if line) if lines else ""


def questions_of(row: BankRow) -> list[BankQuestion]:
    """The review questions one assessment offers, in its own order."""
    if row.kind == "multiple_choice":
        return [
            BankQuestion(
                ref=f"{row.item_slug}#{index}",
                kind="multiple_choice",
                prompt=str(q["prompt"]),
                options=tuple(str(o) for o in q["options"]),
                answer=int(q["answer"]),
                explanation=str(q.get("explanation") or ""),
                item_id=row.item_id,
                item_title=row.item_title,
            )
            for index, q in enumerate(row.spec.get("questions", []))
            if isinstance(q, dict) and q.get("prompt") and q.get("options")
        ]
    if row.kind == "short_answer" and row.spec.get("prompt"):
        return [
            BankQuestion(
                ref=f"{row.item_slug}#prompt",
                kind="self_rated",
                prompt=str(row.spec["prompt"]),
                options=(),
                answer=None,
                explanation=_criteria(row.spec),
                item_id=row.item_id,
                item_title=row.item_title,
            )
        ]
    return []


def bank_of(rows: Iterable[BankRow]) -> list[BankQuestion]:
    """Every question of ``rows``, ordered by assessment slug then question: the same bank every time."""
    return [q for row in sorted(rows, key=lambda r: r.item_slug) for q in questions_of(row)]


def pick(bank: Sequence[BankQuestion], reps: int) -> BankQuestion | None:
    """The question a card with ``reps`` answers asks next (rotating through the bank)."""
    return bank[reps % len(bank)] if bank else None


def find(bank: Sequence[BankQuestion], ref: str) -> BankQuestion | None:
    return next((q for q in bank if q.ref == ref), None)
