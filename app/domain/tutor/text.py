"""The tutor's one text module: normalisers, tokenisers, stop words, stemmers and protected-window matching,
shared by the guardrails (topics, confidence, output filter) and the offline tutor.

Unicode handling (NFKC, invisible characters, look-alike letters) lives one layer down in
:mod:`app.lib.text`; this module adds what only the tutor needs: the vocabularies it ignores, the crude
stemmers that make "indexes" meet "index", and the windows and shingles that detect copied protected text
(solutions, answer keys).

Two stemmers and two stop-word lists exist on purpose, with behaviour that differs in small ways; each
call site keeps the one it was tuned with (the held-out guardrail rounds and the dialogue pass rates were
measured against them):

- :func:`stem` and :data:`TOPIC_STOPWORDS` (topic boundaries, confidence grounding): strips ``'s`` and the
  like, ``-ies`` → ``-y``, ``-ches``/``-shes``/``-sses``/``-xes`` → drop ``es``, a plural ``s`` (not ``ss``)
  and then ``-ing`` or ``-ed`` on longer words.
- :func:`retrieval_stem` and :data:`RETRIEVAL_STOPWORDS` (the offline tutor's BM25 ranking): the first of
  ``-ies``/``-ing``/``-ed``/``-es``/``-s`` that leaves at least three letters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence

# --------------------------------------------------------------------------------------------- normalise

_SPACES = re.compile(r"\s+")
# Typographic quotes and the non-breaking space, as models and editors write them.
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})


def collapse_whitespace(text: str) -> str:
    """Runs of white space (newlines included) as one space, trimmed."""
    return _SPACES.sub(" ", text).strip()


def flatten(text: str) -> str:
    """Lower-cased, white space collapsed: the form topic checks read a message in."""
    return collapse_whitespace(text.lower())


def normalise_quoted(text: str) -> str:
    """Typographic quotes made plain, lower-cased, white space collapsed: the form a reply and the protected
    texts are compared in by the output filter."""
    return collapse_whitespace(text.translate(QUOTES).lower())


def squash(text: str) -> str:
    """All white space removed, case-folded: re-wrapped or re-indented copies compare equal."""
    return _SPACES.sub("", text).casefold()


# --------------------------------------------------------------------------------------------- tokenise

_WORD = re.compile(r"[a-z][a-z0-9]*(?:'[a-z]+)?")  # words with an apostrophe tail ("don't", "learner's")
_ALNUM = re.compile(r"[a-z0-9]+")
TOKEN = re.compile(r"[a-z0-9_]+")  # identifiers too: protected code is compared word by word


def words(text: str) -> list[str]:
    """Lower-cased words starting with a letter, an apostrophe tail kept (``don't``)."""
    return _WORD.findall(text.lower())


def alnum_words(text: str) -> list[str]:
    """Lower-cased runs of letters and digits."""
    return _ALNUM.findall(text.lower())


def tokens(text: str) -> list[str]:
    """Runs of letters, digits and underscores of already lower-cased text."""
    return TOKEN.findall(text)


# --------------------------------------------------------------------------------------------- stop words

# Common English words that say nothing about the subject of a message (they occur in any course text).
TOPIC_STOPWORDS = frozenset(
    """a about above after again against all almost also although always am among an and another any anyone anything
    are around as ask asked asking at away back bad be because been before being below best better between big both
    but by can cannot could day days did different do does doing done don down during each easy else enough even ever
    every example few find first for from full get gets getting give given go goes going good got great had has have
    having he help her here hers him his how however i if im in instead into is isn it its itself just keep kind know
    last least less let like likely little long look lot lots made make makes making many may maybe me mean means
    might mine more most much must my need needs never new next no none nor not nothing now of off often ok okay old on
    once one only or other others our out over own part people per place please point pretty put quite rather really
    right same say says see seem seems should show since small so some someone something sometimes still stuff such
    sure take tell than thank thanks that the their them then there these they thing things think this those though
    through time times to today too took try trying two under understand until up upon us use used uses using very
    want wants was way ways we well went were what whats when where whether which while who whole whom whose why will
    with within without won work works would yeah yes yet you your yours hey hello hi dear also just cant dont doesnt
    isnt wasnt wont didnt ive youre theyre thats theres lets whats hows anybody everyone everything somebody nobody
    year years week weeks month months hour hours minute minutes second seconds morning evening night tonight
    tomorrow yesterday write wrote written read reading said tell told explain explained question questions answer
    answers idea ideas way kind sort case cases fact true false real actually basically exactly maybe probably
    person man woman guy guys friend friends family home life world thing stuff""".split()  # noqa: SIM905 - a word list reads best as prose
)

# Words the offline tutor's retrieval ignores: function words plus the words of asking for help.
RETRIEVAL_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being below between both but
    by can could did do does doing don done each few for from further get got had has have having he her here hers him
    his how i if in into is it its itself just know let like me mean means more most my no nor not now of off on once
    only or other our ours out over own please same she should so some still such than that the their them then there
    these they this those through to too under understand until up us very want was we were what when where which
    while who whom why will with would you your yours yourself explain help tell give show stuck confused hint hints
    question questions answer thing things really work way write down use used using make makes need needs one two
    first new many much every even another lets something someone""".split()  # noqa: SIM905 - a word list reads best as prose
)


# --------------------------------------------------------------------------------------------- stem


@functools.lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """Crude suffix stripping, applied identically to course text and messages so plurals and -ing forms meet
    (the guardrails' stemmer; an apostrophe tail is dropped first)."""
    word = word.split("'", 1)[0]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 6 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 5 and word.endswith("ed"):
        return word[:-2]
    return word


_RETRIEVAL_SUFFIXES = (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))


def retrieval_stem(word: str) -> str:
    """A deliberately crude stemmer (the offline tutor's): enough for "indexes"/"index" or
    "retrying"/"retry" to meet. The first matching suffix that leaves at least three letters goes."""
    for suffix, replacement in _RETRIEVAL_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: len(word) - len(suffix)] + replacement
    return word


def content_words(text: str) -> list[str]:
    """Words of more than two letters that are not topic stop words (unstemmed, order and repeats kept)."""
    return [w for w in words(text) if len(w) > 2 and w.split("'", 1)[0] not in TOPIC_STOPWORDS]


def stems(items: Iterable[str]) -> frozenset[str]:
    return frozenset(stem(w) for w in items)


def terms(text: str) -> list[str]:
    """Content words of ``text`` for retrieval: lower-cased, stemmed, stop words removed (order kept)."""
    return [retrieval_stem(word) for word in alnum_words(text) if word not in RETRIEVAL_STOPWORDS]


# --------------------------------------------------------------------------------------------- protected windows


def windows(text: str, size: int) -> Iterator[str]:
    """Every substring of ``size`` characters, in order (none when the text is shorter)."""
    return (text[i : i + size] for i in range(len(text) - size + 1))


def grams(text: str, size: int) -> set[str]:
    """The set of ``size``-character windows of ``text``."""
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def shingles(items: Sequence[str], size: int) -> set[str]:
    """Runs of ``size`` consecutive tokens, joined by a space."""
    return {" ".join(items[i : i + size]) for i in range(len(items) - size + 1)}


class WindowGuard:
    """Detects text that shares a long window with a protected text (solution, answer key): a window of
    ``raw`` characters as written, or of ``squashed`` characters once white space is removed and case folded;
    protected texts too short for that window but at least ``short_min`` squashed characters long match when
    contained whole."""

    def __init__(self, protected: Iterable[str], *, raw: int, squashed: int, short_min: int) -> None:
        self._raw_size, self._squashed_size = raw, squashed
        self._raw: set[str] = set()
        self._squashed: set[str] = set()
        self._short: set[str] = set()
        for text in protected:
            flat = squash(text)
            if len(text) >= raw:
                self._raw.update(windows(text, raw))
            if len(flat) >= squashed:
                self._squashed.update(windows(flat, squashed))
            elif len(flat) >= short_min:
                self._short.add(flat)

    def leaks(self, text: str) -> bool:
        if any(window in self._raw for window in windows(text, self._raw_size)):
            return True
        flat = squash(text)
        if any(window in self._squashed for window in windows(flat, self._squashed_size)):
            return True
        return any(short in flat for short in self._short)


__all__ = [
    "QUOTES",
    "RETRIEVAL_STOPWORDS",
    "TOKEN",
    "TOPIC_STOPWORDS",
    "WindowGuard",
    "alnum_words",
    "collapse_whitespace",
    "content_words",
    "flatten",
    "grams",
    "normalise_quoted",
    "retrieval_stem",
    "shingles",
    "squash",
    "stem",
    "stems",
    "terms",
    "tokens",
    "windows",
]
