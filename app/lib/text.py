"""The one text-normalisation module: Unicode normal form, invisible and control characters, look-alike
letters and scripts, for every place that takes text from people (names, emails, learner messages).

Attacker-controlled text hides in Unicode: names made only of zero-width or bidi controls render as
nothing (or reorder what follows them), full-width and compatibility forms dodge equality checks, and
Cyrillic or Greek letters that look Latin make an ``admin@demo.test`` whose first letter is Cyrillic
(U+0430) pass for the real one. The rules here:

- **NFKC first**, then judge what is left: compatibility forms (full-width letters, ligatures,
  non-breaking spaces) become their plain equivalents.
- **Control characters are refused, not stripped**: stripping would silently store something other
  than what was sent, and a name that was only controls would become empty.
- **Scripts** are told apart from the Unicode character names (Python's ``unicodedata`` has no script
  property): close to UTS #39's "highly restrictive" level, which allows one script per part, or Latin
  with Han and Japanese kana, Han with Bopomofo, or Han with Hangul.

The tutor's prompt-injection scorer builds on the same tables (``app.domain.tutor.guardrails.injection``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Invisible characters that carry no text of their own (zero-width, joiners, direction marks, soft hyphen).
INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f\u061c"
# Bidirectional controls: embeddings, overrides and isolates reorder the text around them
# ("Trojan Source"); the marks flip neutral characters.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Joiners shape letters in Arabic, Persian and Indic names and build emoji; they are fine between two
# visible characters and nowhere else.
JOINERS = frozenset("\u200c\u200d")
# Cyrillic and Greek letters that render like Latin ones (NFKC leaves them alone).
_LOOKALIKE_FROM = "аеорсухіјѕԁһӏвкмтАЕОРСУХІЈЅВКМТНαοριτυνκεΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"
_LOOKALIKE_TO = "aeopcyxijsdhlbkmtAEOPCYXIJSBKMTHaopitvvkeABEZHIKMNOPTYX"
HOMOGLYPHS = str.maketrans(_LOOKALIKE_FROM, _LOOKALIKE_TO)
HOMOGLYPH_CHARS = frozenset(_LOOKALIKE_FROM)

# Script combinations a single word may legitimately use (UTS #39, "highly restrictive").
_ALLOWED_MIXES = (
    frozenset({"Latin", "Han", "Hiragana", "Katakana"}),
    frozenset({"Latin", "Han", "Bopomofo"}),
    frozenset({"Latin", "Han", "Hangul"}),
)
_SCRIPT_ALIASES = {"CJK": "Han", "IDEOGRAPHIC": "Han", "KATAKANA-HIRAGANA": "Katakana"}
_SPACES = re.compile(r"\s+")
_HTML = frozenset("<>")


class TextRejected(ValueError):
    """The text cannot be accepted; the message says why, in words fit for a problem+json ``detail``."""


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def script_of(char: str) -> str | None:
    """The script of a letter (``Latin``, ``Cyrillic``, ``Han``, …); None for digits, punctuation, marks
    and symbols, which every script shares."""
    if not unicodedata.category(char).startswith("L"):
        return None
    try:
        first = unicodedata.name(char).split(" ", 1)[0]
    except ValueError:
        return None
    return _SCRIPT_ALIASES.get(first, first.capitalize())


def scripts(text: str) -> frozenset[str]:
    return frozenset(s for s in map(script_of, text) if s is not None)


def is_mixed_script(word: str) -> bool:
    """True when one word mixes scripts in a way people do not write (``paypal`` with a Cyrillic a)."""
    found = scripts(word)
    return len(found) > 1 and not any(found <= allowed for allowed in _ALLOWED_MIXES)


def looks_latin(word: str) -> bool:
    """True when a word has no Latin letter yet renders as Latin (``ace`` in three Cyrillic letters)."""
    letters = [c for c in word if script_of(c) is not None]
    return bool(letters) and all(c in HOMOGLYPH_CHARS for c in letters)


def _unacceptable(char: str) -> bool:
    """Controls (C0, C1), format characters other than joiners, unassigned, private-use and surrogate code
    points, and line or paragraph separators."""
    category = unicodedata.category(char)
    if char in JOINERS:
        return False
    return category[0] == "C" or category in ("Zl", "Zp") or char in BIDI_CONTROLS


def _check_joiners(text: str) -> None:
    for index, char in enumerate(text):
        if char not in JOINERS:
            continue
        before = text[index - 1] if index > 0 else " "
        after = text[index + 1] if index + 1 < len(text) else " "
        if before.isspace() or after.isspace() or before in JOINERS or after in JOINERS:
            raise TextRejected("must not contain invisible joiners outside a word")


def clean_name(raw: str, *, max_length: int = 200) -> str:
    """A person's display name: NFKC, runs of white space collapsed to one space, trimmed. Refused: control,
    bidi and invisible characters, HTML brackets, and names with no letter or digit at all."""
    text = nfkc(raw)
    if any(_unacceptable(char) for char in text):  # tabs and newlines are controls too
        raise TextRejected("must not contain control, formatting or invisible characters")
    text = _SPACES.sub(" ", text).strip()
    _check_joiners(text)
    if any(char in _HTML for char in text):
        raise TextRejected("must not contain '<' or '>'")
    if not any(unicodedata.category(char)[0] in "LN" for char in text):
        raise TextRejected("must contain at least one letter or digit")
    if len(text) > max_length:
        raise TextRejected(f"must be at most {max_length} characters")
    return text


def normalise_email(raw: str) -> str:
    """The form emails are stored and compared in: NFKC, trimmed, lower-cased. No validation (login uses
    this as is: an address that could never be stored simply matches nobody)."""
    return nfkc(raw).strip().lower()


@dataclass(frozen=True, slots=True)
class EmailCheck:
    email: str  # normalised
    mixed_script: str  # "" when fine, else why the address looks like an impersonation


def check_email(raw: str) -> EmailCheck:
    """Normalise an email and judge it. Control, invisible and space characters are refused outright; a
    part mixing scripts (``admin`` with a Cyrillic a) or made only of Latin look-alikes next to Latin parts
    (``ace@x.test`` in Cyrillic letters before the @) is reported in ``mixed_script``, for the caller to
    refuse or flag."""
    email = normalise_email(raw)
    if any(_unacceptable(char) or char in JOINERS or char.isspace() for char in email):
        raise TextRejected("must not contain control, formatting, invisible or space characters")
    local, _, domain = email.rpartition("@")
    parts = [local, *domain.split(".")]
    for part in parts:
        if is_mixed_script(part):
            return EmailCheck(email, f"'{part}' mixes {' and '.join(sorted(scripts(part)))} letters")
    if any("Latin" in scripts(part) for part in parts):
        for part in parts:
            if looks_latin(part):
                return EmailCheck(
                    email, f"'{part}' is written in {' and '.join(sorted(scripts(part)))} letters that look Latin"
                )
    return EmailCheck(email, "")
