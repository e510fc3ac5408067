"""The output side: a streaming filter between the model and the learner.

``feed(delta)`` returns the text that is now known to be safe. It holds back only what a check may still
need, so that a violation spanning chunk boundaries is caught before any of it is released:

* on items with hidden material (or with policy ``blocked_terms``) a tail window of ``hold`` normalised
  characters (``min_overlap_chars`` or the longest option/term pattern, plus 8; about 130 by default),
  and a run of copied words until it breaks or trips;
* always, for personal data: the last word (it may still grow into an e-mail address), digit-bearing
  words near the end and the word before them (phone, card, ID and house numbers, "AB 12 34 56 C"),
  and any match that is not yet final (fewer than ``PII_GUARD`` characters after it).

So a lesson reply streams about one word behind the model. ``finish()`` checks and releases the rest.
After a violation the step carries ``blocked`` and nothing more is ever released.

Checks, all incremental (each call costs O(delta + window), never O(reply)):

* **answer leak** against ``context.protected`` and ``context.course_protected`` (solutions, answer keys,
  reference code, hidden tests, exemplars of the item and of every graded item of the course), on text
  normalised to lower case with collapsed whitespace:
  - a common substring of ``min_overlap_chars`` characters (exact character k-grams);
  - a run of consecutive words copied from protected text, punctuation ignored (catches reformatted
    code and re-quoted strings), ``min_overlap_chars / 5`` words long;
  - scattered copying: ``similarity_threshold`` of one protected text's word 4-shingles reproduced;
  - with graded work in the course, the correct option of a multiple-choice question: stated verbatim when it is a
    distinctive sentence, or next to "the answer is" / "is correct" when it is short ("PUT", "429").
  Grams and shingles that also occur in the public material (lesson bodies in the TutorContext) or in
  ``visible`` texts (the learner's own message, starter code) do not count: quoting them is no leak.
* **personal data**: kinds in ``output.pii_block`` stop the reply (outcome ``pii_output``); kinds in
  ``output.pii_redact`` are replaced by placeholders in the released text.
* **blocked terms** of the policy, as whole words or phrases.
"""

from __future__ import annotations

import functools
import math
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.domain.tutor.guardrails.pii import MAX_MATCH_CHARS, PLACEHOLDERS, PiiMatch, apply_redactions, find_pii
from app.domain.tutor.guardrails.pipeline import GuardrailOutcome
from app.domain.tutor.guardrails.policy import GuardrailPolicy, PiiKind
from app.domain.tutor.providers.base import TutorContext
from app.domain.tutor.text import QUOTES, TOKEN, normalise_quoted
from app.domain.tutor.text import grams as _grams
from app.domain.tutor.text import shingles as word_shingles

SHINGLE = 4  # words per shingle
MIN_SHINGLE_MATCHES = 6  # below this, "similarity" is coincidence on short texts
VERBATIM_OPTION_CHARS = 20  # shorter correct options need an answer cue ("the answer is ...") to count
_DIGIT = re.compile(r"\d")
PII_GUARD = 24  # a PII match is final only when this many characters follow it (it could still grow)
LONG_TOKEN = 200  # a "word" longer than this (a blob) is cut so the window never grows with it


@dataclass(frozen=True, slots=True)
class FilterStep:
    release: str
    blocked: GuardrailOutcome | None = None


def normalise_output(text: str) -> str:
    """The form both the reply and the protected texts are compared in."""
    return normalise_quoted(text)


def _joined(texts: Iterable[str]) -> str:
    """Texts as the stream sees them when quoted: normalised, separated and surrounded by one space (the
    reply's whitespace around a quotation collapses to a space too, so edge grams must match)."""
    return " " + " ".join(normalise_output(text) for text in texts) + " "


def _shingles(tokens: Sequence[str]) -> set[str]:
    return word_shingles(tokens, SHINGLE)


@dataclass(frozen=True)
class _LeakIndex:
    grams: frozenset[str]
    shingles: dict[str, tuple[int, ...]]  # shingle -> indexes of the protected texts containing it
    totals: tuple[int, ...]  # protected-only shingles per protected text
    options: re.Pattern[str] | None  # statements of a correct multiple-choice option
    option_chars: int  # longest text the option pattern can match


def _option_pattern(option: str, public: str) -> tuple[str, int]:
    escaped = re.escape(option)
    if len(option) >= VERBATIM_OPTION_CHARS and option not in public:
        return rf"(?<![a-z0-9]){escaped}(?![a-z0-9])", len(option)
    cue = (
        r"(?:answer|correct (?:answer|option|choice|one)|right (?:answer|option|choice|one)|you should (?:pick|choose|"
        r"select|go with))\s*(?:is|would be|should be|=|:|-)?\s*(?:option\s*)?[\"'*`(\[]*\s*"
    )
    after = r"[\"'*`)\]]*\s+(?:is|would be|'s)\s+(?:the\s+)?(?:correct|right)(?:\s+(?:answer|option|choice|one))?\b"
    pattern = rf"{cue}{escaped}(?![a-z0-9])|(?<![a-z0-9]){escaped}{after}"
    return pattern, len(option) + 48


@functools.lru_cache(maxsize=128)
def _leak_index(protected: tuple[str, ...], public: tuple[str, ...], k: int, graded: bool) -> _LeakIndex:
    """Built once per item (cached): the grams/shingles of protected text that the public material lacks."""
    public_text = _joined(public)
    public_grams = _grams(public_text, k)
    public_shingles = _shingles(TOKEN.findall(public_text))
    grams: set[str] = set()
    shingles: dict[str, list[int]] = {}
    totals: list[int] = []
    options: list[str] = []
    option_chars = 0
    for index, raw in enumerate(protected):
        text = normalise_output(raw)
        grams |= _grams(text, k) - public_grams
        own = _shingles(TOKEN.findall(text)) - public_shingles
        totals.append(len(own))
        for shingle in own:
            shingles.setdefault(shingle, []).append(index)
        if graded and len(text) < k and "\n" not in raw.strip():
            pattern, chars = _option_pattern(text, public_text)
            options.append(pattern)
            option_chars = max(option_chars, chars)
    return _LeakIndex(
        frozenset(grams),
        {shingle: tuple(ids) for shingle, ids in shingles.items()},
        tuple(totals),
        re.compile("|".join(options)) if options else None,
        option_chars,
    )


def _public_texts(context: TutorContext) -> tuple[str, ...]:
    related = (*context.module_items, *context.related)
    return (context.item_title, context.item_body, *(f"{r.title}\n{r.body}" for r in related))


def _terms_pattern(terms: Iterable[str]) -> tuple[re.Pattern[str] | None, int]:
    cleaned = sorted({normalise_output(term) for term in terms if term.strip()}, key=len, reverse=True)
    if not cleaned:
        return None, 0
    pattern = r"(?<![a-z0-9])(?:" + "|".join(re.escape(term) for term in cleaned) + r")(?![a-z0-9])"
    return re.compile(pattern), len(cleaned[0])


@dataclass
class _Stream:
    """The normalised text of the reply near its end, with the raw offset of every normalised character."""

    text: str = ""
    start: int = 0  # absolute normalised index of text[0]
    offsets: list[int] = field(default_factory=list)
    last_space: bool = True  # collapse whitespace across deltas; True also drops leading whitespace

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def add(self, delta: str, raw_start: int) -> None:
        chars: list[str] = []
        for position, char in enumerate(delta.translate(QUOTES)):
            if char.isspace():
                if self.last_space:
                    continue
                char, self.last_space = " ", True
            else:
                self.last_space = False
            for lowered in char.lower():
                chars.append(lowered)
                self.offsets.append(raw_start + position)
        self.text += "".join(chars)

    def raw_offset(self, index: int, raw_end: int) -> int:
        """Raw offset where normalised character ``index`` came from (``raw_end`` past the end)."""
        if index >= self.end:
            return raw_end
        return self.offsets[max(0, index - self.start)]

    def trim(self, keep_from: int) -> None:
        cut = keep_from - self.start
        if cut > 0:
            self.text, self.offsets, self.start = self.text[cut:], self.offsets[cut:], keep_from


class OutputFilter:
    """Feed model deltas; release only what is known to be safe; stop on a violation. One per reply."""

    def __init__(self, policy: GuardrailPolicy, context: TutorContext, *, visible: Sequence[str] = ()) -> None:
        leak = policy.output.answer_leak
        # The session item's hidden material and that of every other graded item of the course: a lesson
        # session must not give away the module quiz's answer either.
        protected = (*context.protected, *context.course_protected)
        self._leak_on = leak.enabled and any(text.strip() for text in protected)
        self._k = leak.min_overlap_chars
        self._run_tokens = max(8, math.ceil(leak.min_overlap_chars / 5))
        self._similarity = leak.similarity_threshold
        self._index = _leak_index(protected, _public_texts(context), self._k, context.has_graded_work)
        visible_text = _joined(visible)
        self._visible_grams = _grams(visible_text, self._k) if self._leak_on else set()
        self._visible_shingles = _shingles(TOKEN.findall(visible_text)) if self._leak_on else set()
        self._terms, term_chars = _terms_pattern(policy.output.blocked_terms)
        self._pii_block: frozenset[PiiKind] = frozenset(policy.output.pii_block)
        self._redact: frozenset[PiiKind] = frozenset(policy.output.pii_redact) - self._pii_block
        # Hold back only what a check still needs: leak k-grams and option texts (graded items) and blocked
        # terms. Personal data is handled by _pii_safe_cut, which holds just the tail that could still
        # become a match, so an ordinary reply streams with a delay of about one word.
        self.hold = max(self._k if self._leak_on else 0, self._index.option_chars, term_chars)
        self.hold = self.hold + 8 if self.hold else 0
        self._window = self.hold + 64
        self._raw = ""  # received, not yet released
        self._raw_start = 0  # absolute raw offset of self._raw[0]
        self._left = ""  # the end of the released text: left context for PII patterns
        self._norm = _Stream()
        self._next_gram = 0  # absolute normalised index of the next k-gram to check
        self._next_token = 0  # absolute normalised index where tokenising resumes
        self._recent: deque[tuple[str, int]] = deque(maxlen=SHINGLE)  # last words and where they start
        self._run = 0  # consecutive protected shingles
        self._run_start: int | None = None
        self._matched: dict[int, set[str]] = {}
        self._blocked: GuardrailOutcome | None = None

    # ------------------------------------------------------------------ public API

    def feed(self, delta: str) -> FilterStep:
        if self._blocked is not None:
            return FilterStep("", self._blocked)
        if not delta:
            return FilterStep("")
        self._norm.add(delta, self._raw_start + len(self._raw))
        self._raw += delta
        return self._step(final=False)

    def finish(self) -> FilterStep:
        if self._blocked is not None:
            return FilterStep("", self._blocked)
        return self._step(final=True)

    @property
    def blocked(self) -> GuardrailOutcome | None:
        return self._blocked

    # ------------------------------------------------------------------ one step

    def _step(self, final: bool) -> FilterStep:
        outcome = self._check(final)
        if outcome is not None:
            self._blocked, self._raw = outcome, ""
            return FilterStep("", outcome)
        release = self._release(final)
        self._trim()
        return FilterStep(release)

    def _check(self, final: bool) -> GuardrailOutcome | None:
        if self._leak_on:
            outcome = self._check_grams() or self._check_words(final) or self._check_options(final)
            if outcome is not None:
                return outcome
        return self._check_terms(final) or self._check_pii_block(final)

    def _check_grams(self) -> GuardrailOutcome | None:
        k, norm = self._k, self._norm
        first = max(self._next_gram, norm.start)
        for index in range(first, norm.end - k + 1):
            gram = norm.text[index - norm.start : index - norm.start + k]
            if gram in self._index.grams and gram not in self._visible_grams:
                return GuardrailOutcome(
                    "answer_leak", "block", 1.0, f"reply repeats {k}+ characters of hidden material"
                )
        self._next_gram = max(first, norm.end - k + 1)
        return None

    def _check_words(self, final: bool) -> GuardrailOutcome | None:
        norm = self._norm
        offset = max(self._next_token, norm.start) - norm.start
        for match in TOKEN.finditer(norm.text, offset):
            if match.end() == len(norm.text) and not final and len(match.group(0)) < LONG_TOKEN:
                break  # the word may continue in the next delta
            self._next_token = norm.start + match.end()
            self._recent.append((match.group(0), norm.start + match.start()))
            outcome = self._shingle_added()
            if outcome is not None:
                return outcome
        return None

    def _shingle_added(self) -> GuardrailOutcome | None:
        if len(self._recent) < SHINGLE:
            return None
        shingle = " ".join(word for word, _ in self._recent)
        owners = () if shingle in self._visible_shingles else self._index.shingles.get(shingle, ())
        if not owners:
            self._run, self._run_start = 0, None
            return None
        if self._run == 0:
            self._run_start = self._recent[0][1]
        self._run += 1
        if self._run + SHINGLE - 1 >= self._run_tokens:
            words = self._run + SHINGLE - 1
            return GuardrailOutcome(
                "answer_leak", "block", 1.0, f"reply copies {words} consecutive words of hidden material"
            )
        for owner in owners:
            seen = self._matched.setdefault(owner, set())
            seen.add(shingle)
            total = self._index.totals[owner]
            if len(seen) >= max(MIN_SHINGLE_MATCHES, self._similarity * total):
                share = len(seen) / max(1, total)
                return GuardrailOutcome(
                    "answer_leak", "block", round(share, 3), f"reply overlaps {share:.0%} of hidden material"
                )
        return None

    def _complete_match(self, pattern: re.Pattern[str] | None, final: bool) -> re.Match[str] | None:
        """A match that cannot change with more text: it ends before the window's end (or the reply ended)."""
        if pattern is None:
            return None
        for match in pattern.finditer(self._norm.text):
            if final or match.end() < len(self._norm.text):
                return match
        return None

    def _check_options(self, final: bool) -> GuardrailOutcome | None:
        if self._complete_match(self._index.options, final) is None:
            return None
        return GuardrailOutcome("answer_leak", "block", 1.0, "reply states the correct option of a graded question")

    def _check_terms(self, final: bool) -> GuardrailOutcome | None:
        if self._complete_match(self._terms, final) is None:
            return None
        return GuardrailOutcome("blocked_term", "block", 1.0, "reply contains a term the policy blocks")

    def _pii_matches(self, kinds: frozenset[PiiKind]) -> list[PiiMatch]:
        """PII matches in the pending text (offsets relative to it), using the released tail as left context."""
        if not kinds:
            return []
        buffer = self._left + self._raw
        shift = len(self._left)
        return [PiiMatch(m.kind, m.start - shift, m.end - shift) for m in find_pii(buffer, kinds) if m.start >= shift]

    def _pii(self, kinds: frozenset[PiiKind], final: bool) -> list[PiiMatch]:
        """PII matches that can no longer grow: PII_GUARD characters follow them, or the reply has ended."""
        limit = len(self._raw) if final else len(self._raw) - PII_GUARD
        return [m for m in self._pii_matches(kinds) if m.end <= limit]

    def _check_pii_block(self, final: bool) -> GuardrailOutcome | None:
        matches = self._pii(self._pii_block, final)
        if not matches:
            return None
        kinds = ", ".join(dict.fromkeys(m.kind for m in matches))
        return GuardrailOutcome("pii_output", "block", 1.0, f"personal data in reply: {kinds}")

    # ------------------------------------------------------------------ releasing

    def _release(self, final: bool) -> str:
        raw_end = self._raw_start + len(self._raw)
        if final:
            cut = raw_end
        else:
            hold_from = self._norm.end - self.hold
            if self._run_start is not None:  # a copied run in progress is held until it breaks or trips
                hold_from = min(hold_from, self._run_start)
            if not self.hold and self._run_start is None:
                cut = raw_end
            else:
                cut = self._norm.raw_offset(max(hold_from, self._norm.start), raw_end) if hold_from > 0 else 0
            cut = max(min(cut, self._pii_safe_cut()), self._raw_start)
        cut -= self._raw_start
        matches = self._pii_matches(self._redact)
        limit = len(self._raw) if final else len(self._raw) - PII_GUARD
        for match in matches:
            if match.end > limit or match.start < cut < match.end:
                cut = min(cut, match.start)  # still forming, or would be split: hold all of it
        released = apply_redactions(self._raw[:cut], [m for m in matches if m.end <= cut])
        self._left = (self._left + self._raw[:cut])[-MAX_MATCH_CHARS:]
        self._raw, self._raw_start = self._raw[cut:], self._raw_start + cut
        return released

    def _pii_safe_cut(self) -> int:
        """Absolute raw offset up to which no personal data can still be forming: never the last word (it
        may grow into an e-mail address), never a digit-bearing word in the last MAX_MATCH_CHARS +
        PII_GUARD characters (the start of a phone, card, ID or street number) nor the word before it
        (the "AB" of "AB 12 34 56 C"). Matches that already exist are handled in _release."""
        raw = self._raw
        cut = _word_start(raw, len(raw))
        tail = max(0, len(raw) - MAX_MATCH_CHARS - PII_GUARD)
        digit = _DIGIT.search(raw, tail)
        if digit is not None:
            word = _word_start(raw, digit.start())
            cut = min(cut, _word_start(raw, max(0, word - 1)) if word else 0)
        return self._raw_start + cut

    def _trim(self) -> None:
        keep = min(self._norm.end - self._window, self._next_gram, self._next_token)
        if self._run_start is not None:
            keep = min(keep, self._run_start)
        if self._norm.end - keep > 4 * self._window:  # a pathological run; its start is past the hold anyway
            keep = self._norm.end - 4 * self._window
        self._norm.trim(keep)


def _word_start(text: str, index: int) -> int:
    """Index where the whitespace-separated word containing (or ending just before) ``index`` starts."""
    return max(text.rfind(" ", 0, index), text.rfind("\n", 0, index), text.rfind("\t", 0, index)) + 1


def filter_text(policy: GuardrailPolicy, context: TutorContext, text: str) -> FilterStep:
    """Run a whole (non-streamed) text through a fresh filter."""
    output = OutputFilter(policy, context)
    step = output.feed(text)
    end = output.finish()
    return FilterStep(step.release + end.release, end.blocked or step.blocked)


__all__ = ["PLACEHOLDERS", "FilterStep", "OutputFilter", "filter_text", "normalise_output"]
