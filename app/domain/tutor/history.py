"""Conversation history for the model: earlier turns of a session, trimmed to a token budget.

Older turns that do not fit are not dropped silently: their questions are summarised into one line
prepended to the oldest kept turn, so the model keeps the thread without the full text.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.tutor.providers.base import ChatMessage
from app.domain.tutor.providers.tokens import estimate_tokens

SUMMARY_QUESTION_CHARS = 120


@dataclass(frozen=True, slots=True)
class Turn:
    user: str
    reply: str


def build_history(turns: list[Turn], token_budget: int) -> tuple[ChatMessage, ...]:
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        cost = estimate_tokens(turn.user) + estimate_tokens(turn.reply)
        if kept and used + cost > token_budget:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    older = turns[: len(turns) - len(kept)]
    messages: list[ChatMessage] = []
    for index, turn in enumerate(kept):
        user = turn.user
        if index == 0 and older:
            asked = "; ".join(_first_sentence(t.user) for t in older)
            user = f"(Earlier in this conversation I asked about: {asked})\n\n{user}"
        messages.append(ChatMessage("user", user))
        messages.append(ChatMessage("assistant", turn.reply or "(no reply)"))
    return tuple(messages)


def _first_sentence(text: str) -> str:
    sentence = text.strip().split("\n", 1)[0].split(". ", 1)[0]
    return sentence[:SUMMARY_QUESTION_CHARS]
