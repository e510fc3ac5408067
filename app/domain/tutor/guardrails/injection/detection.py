"""Detection: the normalised message and its de-obfuscated and decoded variants matched against the pattern
tables; signals per family, scored with the policy's weights."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.domain.tutor.guardrails.injection.decoders import decoded_blobs
from app.domain.tutor.guardrails.injection.normalisation import Normalised, deleet, despace, normalise
from app.domain.tutor.guardrails.injection.patterns import (
    AI_IMPERATIVE,
    ANSWER_PATTERNS,
    DAN,
    DECODE_AND_FOLLOW,
    FLAT_PATTERNS,
    IMPERATIVE,
    LINE_PATTERNS,
    PEOPLE_REQUEST,
    SECOND_PERSON,
    SEGMENT_AI,
    SEGMENT_ASK,
    SEGMENTS,
    SELF_GROUPS,
    SELF_WINDOW,
    SELF_WORD,
    SQUASHED,
    STRONG,
    TRIGGER,
    USER_LINE,
    WEAK,
    SignalPattern,
)
from app.lib.text import HOMOGLYPHS

_WHITESPACE = re.compile(r"\s+")
_NOT_LETTER = re.compile(r"[^a-z]+")


@dataclass(frozen=True, slots=True)
class InjectionSignal:
    family: str
    name: str
    strength: float
    via: str  # "text", "lines", "comment", "leet", "squashed", "reversed", "rot13", "base64", "hex", "escaped"


@dataclass(frozen=True, slots=True)
class InjectionResult:
    score: float
    signals: tuple[InjectionSignal, ...]

    def families(self) -> dict[str, float]:
        strongest: dict[str, float] = {}
        for signal in self.signals:
            strongest[signal.family] = max(strongest.get(signal.family, 0.0), signal.strength)
        return strongest

    def summary(self) -> str:
        """Which families fired and through which form, without echoing the learner's text."""
        parts = sorted(
            {f"{s.family}:{s.name}" + ("" if s.via in ("text", "lines") else f"@{s.via}") for s in self.signals}
        )
        return ", ".join(parts)


def _match(patterns: Iterable[SignalPattern], text: str, via: str) -> list[InjectionSignal]:
    return [InjectionSignal(p.family, p.name, p.strength, via) for p in patterns if p.search(text)]


def _self_reference(flat: str) -> InjectionSignal | None:
    words = SELF_WORD.findall(flat)
    anchors = [i for i, word in enumerate(words) if word in SECOND_PERSON]
    if not anchors:
        return None
    near: set[str] = set()
    for index in anchors:
        near.update(words[max(0, index - SELF_WINDOW) : index + SELF_WINDOW + 1])
    groups = sum(1 for vocabulary in SELF_GROUPS.values() if near & vocabulary)
    if groups >= 3:
        return InjectionSignal("self_reference", "about_the_tutor", STRONG, "text")
    if groups == 2 and near & (SELF_GROUPS["rules"] | SELF_GROUPS["control"]):
        return InjectionSignal("self_reference", "about_the_tutor", WEAK, "text")
    return None


def _encoded_signals(norm: Normalised, depth: int = 0) -> list[InjectionSignal]:
    signals: list[InjectionSignal] = []
    for via, decoded in decoded_blobs(norm.original):
        inner = normalise(decoded)
        hits = _match(FLAT_PATTERNS, inner.flat, via)
        if depth == 0:
            hits += _encoded_signals(inner, depth + 1)
        if hits or IMPERATIVE.search(inner.flat):
            signals += [*hits, InjectionSignal("encoded_payload", "decodes_to_instructions", STRONG, via)]
    return signals


def _variant_signals(norm: Normalised, graded: bool) -> list[InjectionSignal]:
    """Hits that only appear once the text is de-obfuscated; each also counts as obfuscation."""
    signals: list[InjectionSignal] = []
    variants = [
        ("leet", deleet(norm.flat)),
        ("spaced", despace(norm.original.translate(HOMOGLYPHS).lower())),  # before spaces were collapsed
        ("reversed", norm.flat[::-1]),
        ("rot13", codecs.encode(norm.flat, "rot13")),
    ]
    patterns = (*FLAT_PATTERNS, *ANSWER_PATTERNS) if graded else FLAT_PATTERNS
    for via, text in variants:
        if text != norm.flat and TRIGGER.search(text):
            signals += _match(patterns, text, via)
    squashed = _NOT_LETTER.sub("", deleet(norm.flat))
    if SQUASHED.search(squashed):
        signals.append(InjectionSignal("role_override", "split_letters", STRONG, "squashed"))
    return signals


def _segment_signals(norm: Normalised) -> list[InjectionSignal]:
    signals: list[InjectionSignal] = []
    for match in SEGMENTS.finditer(norm.lines):
        segment = _WHITESPACE.sub(" ", match.group(0))  # not trimmed
        hits = _match(FLAT_PATTERNS, segment, "comment")
        addressed = AI_IMPERATIVE.search(segment) or (SEGMENT_AI.search(segment) and SEGMENT_ASK.search(segment))
        if addressed or any(h.family in ("role_override", "exfiltration") for h in hits):
            signals.append(InjectionSignal("hidden_instruction", "instruction_in_pasted_text", STRONG, "comment"))
    return signals


def _line_signals(norm: Normalised) -> list[InjectionSignal]:
    signals = _match(LINE_PATTERNS, norm.lines, "lines")
    if any(s.name == "assistant_line" for s in signals) and USER_LINE.search(norm.lines):
        signals.append(InjectionSignal("delimiter", "fake_transcript", STRONG, "lines"))
    if DAN.search(norm.original):
        signals.append(InjectionSignal("role_override", "dan", STRONG, "text"))
    return signals


def _obfuscation_evidence(norm: Normalised, signals: list[InjectionSignal]) -> list[InjectionSignal]:
    if not (norm.invisible or norm.homoglyphs):
        return []
    # Invisible characters inside words or Cyrillic look-alikes in a Latin message are suspicious on their
    # own (copy-paste can produce them, so only a little), and clearly so next to any other signal.
    strength = STRONG if any(s.family != "obfuscation" for s in signals) else WEAK
    return [InjectionSignal("obfuscation", "invisible_or_lookalike_characters", strength, "text")]


def detect(text: str, *, graded: bool = False) -> list[InjectionSignal]:
    norm = normalise(text)
    signals = _match(FLAT_PATTERNS, norm.flat, "text")
    if graded:
        signals += _match(ANSWER_PATTERNS, norm.flat, "text")
    signals += _line_signals(norm)
    signals += _segment_signals(norm)
    signals += _encoded_signals(norm)
    if DECODE_AND_FOLLOW.search(norm.flat):
        signals.append(InjectionSignal("encoded_payload", "decode_and_follow", STRONG, "text"))
    if PEOPLE_REQUEST.search(norm.flat):
        signals.append(InjectionSignal("data_exfiltration", "people_request", STRONG, "text"))
    self_reference = _self_reference(norm.flat)
    if self_reference is not None:
        signals.append(self_reference)
    known = {s.family for s in signals}
    hidden = [s for s in _variant_signals(norm, graded) if s.family not in known]
    if hidden:  # only the de-obfuscated text says it: the disguise itself is a signal
        signals += [*hidden, InjectionSignal("obfuscation", "hidden_trigger_words", STRONG, hidden[0].via)]
    signals += _obfuscation_evidence(norm, signals)
    return signals


def score_injection(text: str, weights: Mapping[str, float], *, graded: bool = False) -> InjectionResult:
    """Score 0..1: sum over families of ``weights[family] * strongest signal``, capped at 1."""
    signals = detect(text, graded=graded)
    result = InjectionResult(0.0, tuple(signals))
    total = sum(weights.get(family, 0.0) * strength for family, strength in result.families().items())
    return InjectionResult(min(1.0, round(total, 4)), result.signals)


__all__ = ["InjectionResult", "InjectionSignal", "detect", "score_injection"]
