"""Retrieval quality on a gold set: learner questions and the items that answer them.

The gold set (tests/recommendations/gold.yaml) lists each question with the items that answer it as
``course-slug/item-slug``; a question about the acme-only course is asked in org ``acme``, the others in
``demo``. Used by benchmarks/recommendations.py and the recall test (tests/integration/search).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ACME_ONLY = "acme-secure-coding"


@dataclass(frozen=True)
class Question:
    q: str
    org: str
    items: frozenset[tuple[str, str]]  # (course slug, item slug)


def load_gold(path: Path) -> list[Question]:
    questions = []
    for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
        items = frozenset(tuple(ref.split("/", 1)) for ref in entry["items"])
        org = "acme" if any(course == ACME_ONLY for course, _ in items) else "demo"
        questions.append(Question(entry["q"], org, items))
    return questions


@dataclass(frozen=True)
class Quality:
    recall1: float
    recall5: float
    mrr: float
    n: int

    def __str__(self) -> str:
        return f"recall@1 {self.recall1:.3f}  recall@5 {self.recall5:.3f}  MRR {self.mrr:.3f}  (n={self.n})"


def quality(questions: Sequence[Question], rankings: Sequence[Sequence[tuple[str, str]]]) -> Quality:
    r1 = r5 = rr = 0.0
    for question, ranked in zip(questions, rankings, strict=True):
        first = next((i for i, ref in enumerate(ranked[:10], start=1) if ref in question.items), None)
        r1 += first == 1
        r5 += first is not None and first <= 5
        rr += 1 / first if first else 0.0
    n = len(questions)
    return Quality(r1 / n, r5 / n, rr / n, n)
