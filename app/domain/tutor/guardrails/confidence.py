"""A deterministic 0..1 confidence for a finished tutor reply, shown to learners and used in analytics.

It is a heuristic, not a probability. It rises with *grounding* (how much of the reply's vocabulary occurs
in the course material the tutor was given) and falls with hedging ("I'm not sure", "might"), with
implausible length (a few words, or a wall of text) and with every guardrail that had to intervene.
Without course material to compare against, grounding is neutral (0.5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.domain.tutor.guardrails.pipeline import GuardrailOutcome
from app.domain.tutor.guardrails.topics import course_vocabulary
from app.domain.tutor.providers.base import TutorContext
from app.domain.tutor.text import content_words, stem

_HEDGES = re.compile(
    r"\b(?:i think|i believe|i guess|i'?m not (?:sure|certain)|not (?:sure|certain)|might|may be|maybe|perhaps|"
    r"possibly|probably|it seems|seems like|as far as i know|i could be wrong|if i recall|i don'?t know|unclear|"
    r"hard to say|roughly|likely)\b",
    re.IGNORECASE,
)
_PENALTY = {"flag": 0.08, "redact": 0.05, "block": 0.25}
MIN_CHARS, MAX_CHARS = 40, 6000


def _grounding(reply: str, context: TutorContext) -> float:
    if not (context.item_body or context.module_items or context.related):
        return 0.5
    words = content_words(reply)
    if not words:
        return 0.0
    vocabulary = course_vocabulary(context)
    return sum(1 for word in words if stem(word) in vocabulary) / len(words)


def _length_factor(reply: str) -> float:
    size = len(reply.strip())
    if size < MIN_CHARS:
        return size / MIN_CHARS
    if size > MAX_CHARS:
        return max(0.5, MAX_CHARS / size)
    return 1.0


def confidence_score(reply: str, context: TutorContext, outcomes: Iterable[GuardrailOutcome]) -> float:
    """0..1; the same inputs always give the same score."""
    if not reply.strip():
        return 0.0
    base = 0.3 + 0.65 * min(1.0, _grounding(reply, context) / 0.8)  # 80% grounded vocabulary is already excellent
    hedges = len(_HEDGES.findall(reply))
    base -= min(0.3, 0.06 * hedges)
    base *= _length_factor(reply)
    base -= min(0.5, sum(_PENALTY.get(outcome.action, 0.0) for outcome in outcomes))
    return round(min(1.0, max(0.0, base)), 4)


__all__ = ["confidence_score"]
