"""Find and redact personal data before text leaves the platform (learner messages) or reaches a learner
(tutor replies): emails, phone numbers, street addresses, government IDs, payment card numbers, bank
account numbers (IBAN), public IP addresses, dates of birth and names a learner introduces themselves with.

Each detector is a precompiled regex plus, where digits alone are ambiguous, a validator: card numbers
must pass the Luhn check, IBANs their mod-97 check, IP addresses must be public (a networking lesson's
``192.168.1.1`` or ``203.0.113.7`` is nobody's), and phone numbers must have a plausible digit count, so order
ids, timestamps, HTTP status codes and the numbers that fill course material are left alone. Dates of birth
and names are only found where the text says what they are ("date of birth: ...", "my name is ..."): a
bare date or a capitalised word is course material far more often than personal data.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from app.domain.tutor.guardrails.policy import PII_KINDS, PiiKind

PLACEHOLDERS: dict[PiiKind, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "address": "[ADDRESS]",
    "government_id": "[GOVERNMENT_ID]",
    "card": "[CARD]",
    "iban": "[IBAN]",
    "ip_address": "[IP_ADDRESS]",
    "date_of_birth": "[DATE_OF_BIRTH]",
    "person_name": "[NAME]",
}
# Longest text one detector can match; the streaming output filter holds back at least this much.
MAX_MATCH_CHARS = 96

# RFC 2606 / 6761 names reserved for examples: "ada@example.test" in a lesson is not anyone's address.
_EXAMPLE_DOMAIN = re.compile(r"(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PiiMatch:
    kind: PiiKind
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies (catches typos and most random digit runs)."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _only_digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def _valid_card(text: str) -> bool:
    digits = _only_digits(text)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


def _valid_phone(text: str) -> bool:
    digits = _only_digits(text)
    return 8 <= len(digits) <= 15 and len(set(digits)) > 2


def _valid_email(text: str) -> bool:
    return not _EXAMPLE_DOMAIN.search(text.rsplit("@", 1)[-1])


def _valid_iban(text: str) -> bool:
    """ISO 13616: 15-34 characters, and the number (letters as 10-35, the first four moved to the end) is 1
    modulo 97. A random run of letters and digits passes one time in 97."""
    compact = "".join(text.split()).upper()
    if not 15 <= len(compact) <= 34 or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# Public addresses that belong to services, not people; they fill networking lessons.
_WELL_KNOWN_IPS = frozenset({"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112"})


def _valid_ip(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if not address.is_global or text in _WELL_KNOWN_IPS:
        return False
    # "1.2.3.4" is far more often a version number than somebody's address.
    return address.version == 6 or any(int(octet) >= 10 for octet in text.split("."))


def _has_digit(text: str) -> bool:
    return any(char.isdigit() for char in text)


@dataclass(frozen=True, slots=True)
class _Detector:
    kind: PiiKind
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] | None = None
    group: int = 0  # redact only this group (keyword-led patterns keep their keyword)
    min_digits: int = 0  # skip the regex when the text has fewer digits: most text has none (output filter hot path)
    needs: str = ""  # skip the regex when this character is absent


# Unambiguous street types match in any case; words that are also ordinary nouns ("drive", "way", "close",
# "court") only count when the name is capitalised, so "2 hard drive" or "the 3 way handshake" stay as they are.
_STRONG_STREET = r"street|st\.?|avenue|ave\.?|road|rd\.?|boulevard|blvd\.?|parkway|pkwy\.?|highway|hwy\.?"
_WEAK_STREET = (
    r"Drive|Dr\.?|Court|Ct\.?|Way|Place|Pl\.?|Close|Square|Sq\.?|Row|Lane|Ln\.?|Gardens|Mews|Terrace|Crescent"
)
# Words that cannot be part of a street name; without them "step 2 of the road" would be an address.
_NOT_NAME = (
    r"(?!(?:of|the|a|an|to|in|on|at|for|and|or|is|are|was|be|my|your|our|their|this|that|these|those|"
    r"it|its|per|by|with|from|into|more|less|than|times|ms|seconds?|minutes?|hours?|days?|nodes?|"
    r"servers?|replicas?|items?|rows?|requests?|retries|attempts?|tokens?|steps?|ways?)\b)"
)
_UNIT = r"(?:,?\s+(?:apt|apartment|suite|unit|flat)\.?\s*#?\w{1,6})?"
_HOUSE = r"(?<![\w/.:-])\d{1,5}[A-Za-z]?,?\s+"

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
)
# "Ada", "McDonald", "Mary-Jane", "O'Brien" (\u2019: the typographic apostrophe)
_NAME_WORD = r"[A-Z](?:[a-z]|['\u2019-]?[A-Z][a-z]|['\u2019-][a-z])+"

# Order matters: a span claimed by an earlier detector is not reported again by a later one.
_DETECTORS: tuple[_Detector, ...] = (
    _Detector(
        "email",
        re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b"),
        _valid_email,
        needs="@",
    ),
    _Detector(  # before card and phone: an IBAN's digit groups could pass for either
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", re.IGNORECASE),
        _valid_iban,
        min_digits=8,
    ),
    _Detector(
        "card",
        re.compile(
            r"(?<![\d-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5})(?![\d-])"
        ),
        _valid_card,
        min_digits=13,
    ),
    _Detector(  # US social security number (never starts 000, 666 or 9xx)
        "government_id",
        re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])"),
        min_digits=9,
    ),
    _Detector(  # UK national insurance number, e.g. AB 12 34 56 C
        "government_id",
        re.compile(
            r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
            re.IGNORECASE,
        ),
        min_digits=6,
    ),
    _Detector(  # "passport number: X1234567", "SSN 123456789", "driver's licence no. D1234-5678"
        "government_id",
        re.compile(
            r"\b(?:passport|driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|national\s+(?:id|insurance)|"
            r"id\s+card|identity\s+card|tax\s+(?:id|file)|social\s+security|ssn|aadhaar|personal\s+id)"
            r"(?:\s+(?:no\.?|number|num|#|id))?\s*(?:is|:|#|=)?\s*"
            r"([A-Z0-9](?:[A-Z0-9 -]{3,16})[A-Z0-9])\b",
            re.IGNORECASE,
        ),
        _has_digit,
        group=1,
        min_digits=1,
    ),
    _Detector(  # "date of birth: 12/03/2001", "born on 3 March 1990", "DOB 1990-01-02"
        "date_of_birth",
        re.compile(
            r"\b(?:date\s+of\s+birth|d\.?o\.?b\.?|born(?:\s+on)?|birth\s*date|birthday)"
            rf"(?:\s+is)?\s*[:=-]?\s*({_DATE})(?![\d/.-]\d)",
            re.IGNORECASE,
        ),
        group=1,
        min_digits=2,
    ),
    _Detector(  # IPv4, public only (validator)
        "ip_address",
        re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)(?![\w])"),
        _valid_ip,
        min_digits=4,
        needs=".",
    ),
    _Detector(  # IPv6, public only; times such as 12:30:45 are not addresses (the validator parses)
        "ip_address",
        re.compile(r"(?<![\w:])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{3,39}(?![\w:])"),
        _valid_ip,
        min_digits=1,
        needs=":",
    ),
    _Detector(  # a learner introducing themselves; only capitalised words after the phrase count
        "person_name",
        re.compile(
            r"(?i:\bmy\s+(?:full\s+)?name\s+is|\bmy\s+name's|\bi\s+am\s+called|\bi'm\s+called|\bcall\s+me)"
            rf"\s+({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}})"
        ),
        group=1,
    ),
    _Detector(  # international: +44 20 7946 0958, +1 (415) 555-0134, +49-30-901820
        "phone",
        re.compile(r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{1,5}){1,4}(?![\w-])"),
        _valid_phone,
        min_digits=8,
    ),
    _Detector(  # US: (415) 555-0134, 415-555-0134, 415.555.0134, 1-800-555-0199
        "phone",
        re.compile(r"(?<![\w+.-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])"),
        _valid_phone,
        min_digits=8,
    ),
    _Detector(  # UK and other national formats with a trunk 0: 020 7946 0958, 07700 900123
        "phone",
        re.compile(r"(?<![\w+.:-])0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?![\w-])"),
        _valid_phone,
        min_digits=8,
    ),
    _Detector(  # bare digits only count when the text says they are a phone number
        "phone",
        re.compile(
            r"\b(?:phone|tel|telephone|mobile|cell|call me|text me|whatsapp)\b[^\d\n]{0,15}(\+?\d{9,14})(?!\d)",
            re.IGNORECASE,
        ),
        _valid_phone,
        group=1,
        min_digits=9,
    ),
    _Detector(  # house number, 1-4 name words, street type: "221B Baker Street", "1600 Pennsylvania Ave"
        "address",
        re.compile(
            rf"{_HOUSE}(?:{_NOT_NAME}[A-Za-z][A-Za-z'.-]*\s+){{1,4}}(?:{_STRONG_STREET})(?![\w-]){_UNIT}", re.IGNORECASE
        ),
        min_digits=1,
    ),
    _Detector(
        "address",
        re.compile(rf"{_HOUSE}(?:{_NOT_NAME}[A-Z][a-z'.-]+\s+){{1,4}}(?:{_WEAK_STREET})(?![\w-]){_UNIT}"),
        min_digits=1,
    ),
)


def find_pii(text: str, kinds: Collection[PiiKind] = PII_KINDS) -> list[PiiMatch]:
    """Non-overlapping matches of the requested kinds, in text order."""
    found: list[PiiMatch] = []
    digits = sum(1 for char in text if char.isdigit())
    for detector in _DETECTORS:
        if (
            detector.kind not in kinds
            or digits < detector.min_digits
            or (detector.needs and detector.needs not in text)
        ):
            continue
        for match in detector.pattern.finditer(text):
            start, end = match.span(detector.group)
            if start < 0 or _overlaps(found, start, end):
                continue
            if detector.valid is not None and not detector.valid(match.group(detector.group)):
                continue
            found.append(PiiMatch(detector.kind, start, end))
    return sorted(found, key=lambda m: m.start)


def _overlaps(found: Iterable[PiiMatch], start: int, end: int) -> bool:
    return any(start < m.end and m.start < end for m in found)


def apply_redactions(text: str, matches: Iterable[PiiMatch]) -> str:
    parts: list[str] = []
    position = 0
    for match in matches:
        parts.append(text[position : match.start])
        parts.append(PLACEHOLDERS[match.kind])
        position = match.end
    parts.append(text[position:])
    return "".join(parts)


def redact_pii(text: str, kinds: Collection[PiiKind] = PII_KINDS) -> tuple[str, list[PiiKind]]:
    """``text`` with each piece of personal data replaced by ``[EMAIL]``, ``[PHONE]``, ... and the kinds found
    (each kind once, in order of first appearance)."""
    matches = find_pii(text, kinds)
    found: list[PiiKind] = []
    for match in matches:
        if match.kind not in found:
            found.append(match.kind)
    return apply_redactions(text, matches), found


__all__ = ["MAX_MATCH_CHARS", "PLACEHOLDERS", "PiiMatch", "apply_redactions", "find_pii", "luhn_valid", "redact_pii"]
