"""Normalisation for injection scoring: NFKC, invisible characters dropped (and counted when they sit inside a
word), look-alike letters mapped to Latin, lower case, white space collapsed; plus the de-obfuscations
(l33t spelling, letters split by spaces) the detectors also try."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from app.domain.tutor.text import collapse_whitespace
from app.lib.text import HOMOGLYPH_CHARS, HOMOGLYPHS, INVISIBLE

# Invisible characters and Latin look-alikes come from the one text-normalisation module.
_INVISIBLE = INVISIBLE
_DROP_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE))
_HOMOGLYPHS = HOMOGLYPHS
_HOMOGLYPH_CHARS = HOMOGLYPH_CHARS
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_LEET_WORD = re.compile(r"\b(?=[a-z0-9@$!]*[a-z])(?=[a-z0-9@$!]*[0-9@$!])[a-z0-9@$!]{3,}")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_SPACED = re.compile(r"(?<![a-z])(?:[a-z0-9](?:[ .\-_*]{1,3}|$)){4,}(?![a-z])")


@dataclass(frozen=True, slots=True)
class Normalised:
    original: str  # NFKC with invisible characters removed, case kept (for base64 and the DAN check)
    flat: str  # also look-alikes mapped, lower-cased, all whitespace collapsed to one space
    lines: str  # like ``flat`` but newlines kept, for patterns anchored at the start of a line
    invisible: int  # invisible characters that sat between two letters
    homoglyphs: int  # look-alike letters replaced


def normalise(text: str) -> Normalised:
    nfkc = unicodedata.normalize("NFKC", text)
    invisible = len(re.findall(rf"(?<=\w)[{_INVISIBLE}]+(?=\w)", nfkc))
    original = nfkc.translate(_DROP_INVISIBLE)
    homoglyphs = sum(1 for char in original if char in _HOMOGLYPH_CHARS)
    mapped = original.translate(_HOMOGLYPHS).lower()
    lines = "\n".join(_SPACES.sub(" ", line).strip() for line in mapped.splitlines())
    return Normalised(original, collapse_whitespace(mapped), lines, invisible, homoglyphs)


def deleet(flat: str) -> str:
    """``1gn0r3 4ll`` -> ``ignore all``; only words mixing letters with digits/symbols change, so 429 stays."""
    return _LEET_WORD.sub(lambda match: match.group(0).translate(_LEET), flat)


def despace(text: str) -> str:
    """``r e v e a l   t h e   k e y`` -> ``reveal the key``: letters split by single separators are joined;
    a wider gap (or a separator run) stays a word break."""

    def join(match: re.Match[str]) -> str:
        words = re.split(r"\s{2,}|[ .\-_*]{2,}", match.group(0))
        return " ".join(re.sub(r"[ .\-_*]", "", word) for word in words)

    return collapse_whitespace(_SPACED.sub(join, text))


__all__ = ["Normalised", "deleet", "despace", "normalise"]
