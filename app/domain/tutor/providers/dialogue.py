"""Conversation state for the offline tutor, derived from the transcript (no table of its own).

Everything the offline tutor needs to carry a dialogue is recoverable from the session's earlier turns,
which every turn already loads as history: which hints were given (each offline hint is labelled
``**Hint N``), what the learner asked about (their earlier messages), which misconceptions they stated
(the authored patterns matched against their earlier messages) and what the last reply listed (its bold
terms, for "an example of the second one?"). Deriving it keeps the transcript the single source of
truth: a resent or replayed turn, a new device or a restarted server all see the same state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.domain.tutor.providers.base import ChatMessage, Misconception

_HINT_MARK = re.compile(r"\*\*Hint (\d+)\b")
# How the offline tutor labels its request for the learner's own attempt (hint policy "attempt_first").
ATTEMPT_FIRST_LABEL = "**Your attempt first:**"
_BOLD = re.compile(r"\*\*(.+?)\*\*")
# "I'm stuck", "I still don't get it", "another hint", "I don't understand", "no idea", "still confused".
_STUCK = re.compile(
    r"\b(stuck|lost|confus\w*|no idea|don'?t (really )?(get|understand|follow)|do not (get|understand|follow)|"
    r"(another|next|more|one more|a|any) hints?|hints? please|give me a hint|what comes first|"
    r"where (do|should|can) i (start|begin)|don'?t know (where|how|what)|makes no sense|help me|no clue|"
    r"clueless|(how|where) (do i|to|should i) approach|doesn'?t help|(help|get) me (get )?started|"
    r"not getting (it|this)|i give up)\b",
    re.IGNORECASE,
)
_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "last": -1,
}  # fmt: skip
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\b(?:\s+(?:one|item|point|part|term|idea))?", re.IGNORECASE)
_EXAMPLE = re.compile(r"\b(example|examples|show me|illustrate|sample)\b", re.IGNORECASE)
# Words that point back at the conversation rather than naming a topic.
_ANAPHORA = re.compile(r"\b(that|this|it|its|they|them|those|these|one|ones|why|how come|and)\b", re.IGNORECASE)
FOLLOW_UP_WORDS = 14  # longer messages are read as questions in their own right


def matches(misconception: Misconception, text: str) -> bool:
    """Whether ``text`` states the misconception. A pattern ``A.*B`` also matches with its parts in the
    other order ("store passwords encrypted" as well as "encrypt the passwords"): learners phrase the
    same claim both ways, and authors should not have to write every permutation."""
    for pattern in misconception.patterns:
        try:
            if re.search(pattern, text, re.IGNORECASE):
                return True
            parts = pattern.split(".*")
            if len(parts) > 1 and all(re.search(part, text, re.IGNORECASE) for part in parts):
                return True
        except re.error:  # validated on load (a part that is not a pattern on its own just fails here)
            continue
    return False


def claimed(misconceptions: tuple[Misconception, ...], text: str) -> Misconception | None:
    """The first authored misconception ``text`` states (the item's own come first), or None."""
    return next((m for m in misconceptions if matches(m, text)), None)


def is_stuck(text: str) -> bool:
    return bool(_STUCK.search(text))


def wants_example(text: str) -> bool:
    return bool(_EXAMPLE.search(text))


def ordinal(text: str) -> int | None:
    found = _ORDINAL.search(text)
    return _ORDINALS[found.group(1).lower()] if found else None


def is_follow_up(text: str) -> bool:
    """A short message that leans on what was said before ("why?", "an example of that?")."""
    words = text.split()
    return len(words) <= FOLLOW_UP_WORDS and bool(_ANAPHORA.search(text) or ordinal(text) is not None)


@dataclass
class DialogueState:
    """What the transcript says so far. ``hints_given`` is the highest hint level already given."""

    hints_given: int = 0
    attempt_requested: bool = False  # an earlier reply asked for the learner's own attempt (attempt_first)
    asked: list[str] = field(default_factory=list)  # the learner's earlier messages, oldest first
    claims: list[Misconception] = field(default_factory=list)  # misconceptions they stated earlier
    last_reply: str = ""

    @property
    def next_hint(self) -> int:
        return self.hints_given + 1

    def listed(self) -> list[str]:
        """Terms the last reply listed, in order: bold terms of its quoted material first (that is what
        "the second one" most often refers to), then any other bold terms; hint labels left out."""
        quoted = [line for line in self.last_reply.splitlines() if line.startswith(">")]
        rest = [line for line in self.last_reply.splitlines() if not line.startswith(">")]
        terms: list[str] = []
        for lines in (quoted, rest):
            for term in _BOLD.findall("\n".join(lines)):
                term = term.strip(" .:;,")
                if term and not term.lower().startswith(("hint", "not quite")) and term not in terms:
                    terms.append(term)
        return terms

    def referent(self, text: str) -> str | None:
        """What "the second one" (or "the last one") in ``text`` points at in the last reply."""
        index = ordinal(text)
        listed = self.listed()
        if index is None or not listed:
            return None
        if index >= len(listed):
            return None
        return listed[index]


def derive(messages: tuple[ChatMessage, ...], misconceptions: tuple[Misconception, ...]) -> DialogueState:
    """The state of the conversation before its last message (the one being answered)."""
    state = DialogueState()
    for message in messages[:-1]:
        if message.role == "assistant":
            levels = [int(n) for n in _HINT_MARK.findall(message.content)]
            state.hints_given = max([state.hints_given, *levels])
            state.attempt_requested = state.attempt_requested or ATTEMPT_FIRST_LABEL in message.content
            state.last_reply = message.content
        else:
            # History may prefix the oldest kept turn with a summary line of the questions before it.
            state.asked.append(message.content)
            found = claimed(misconceptions, message.content)
            if found is not None and found not in state.claims:
                state.claims.append(found)
    return state
