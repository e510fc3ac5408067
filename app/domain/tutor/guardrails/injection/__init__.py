"""Prompt-injection scoring for learner messages.

The text is normalised first (NFKC, invisible characters removed, look-alike letters mapped to Latin,
lower-cased, whitespace collapsed), then matched against families of signals. Obfuscated forms are
matched too: l33t spelling, letters split by spaces or punctuation, reversed text, ROT13, and base64 /
hex / percent / ``\\u`` escaped blobs that decode to readable text. A hit found only in such a form adds
the ``obfuscation`` or ``encoded_payload`` family on top of its own. Comments, docstrings and quotes of
pasted material are searched for instructions addressed to the model (``hidden_instruction``), and a
phrasing-independent detector looks for messages about the tutor itself rather than the course
(``self_reference``: "you"/"your" near words about rules, context, behaviour, control and disclosure).

Every family has a weight in the policy and every pattern a strength (1.0 clear, 0.5 suggestive). The
score is the sum over families of ``weight * strongest hit``, capped at 1; the pipeline compares it with
the policy's flag and block thresholds.

The package is split by concern: ``normalisation`` (the normalised forms and de-obfuscations), ``patterns``
(the tables, as data), ``decoders`` (base64, hex and escapes) and ``detection`` (matching and scoring).
"""

from __future__ import annotations

from app.domain.tutor.guardrails.injection.decoders import decoded_blobs
from app.domain.tutor.guardrails.injection.detection import InjectionResult, InjectionSignal, detect, score_injection
from app.domain.tutor.guardrails.injection.normalisation import Normalised, deleet, despace, normalise

__all__ = [
    "InjectionResult",
    "InjectionSignal",
    "Normalised",
    "decoded_blobs",
    "deleet",
    "despace",
    "detect",
    "normalise",
    "score_injection",
]
