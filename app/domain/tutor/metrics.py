"""The tutor's service-level indicators (docs/slo.md): time to first token and how each turn ended.

Observed once per turn, after its record is written (``TurnRunner._record``), and for turns that a
dependency outage stopped before any record (``unavailable``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from app.domain.tutor.chat import TurnState
from app.lib.observability import REGISTRY

# The SLO threshold (2 s, docs/slo.md) must be a bucket bound: the SLI reads the `le="2"` bucket.
FIRST_TOKEN = Histogram(
    "lyceum_tutor_first_token_seconds",
    "From the learner's message reaching the tutor to the model's first token (turns that got one)",
    registry=REGISTRY,
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 10, 20, 60),
)
TURNS = Counter(
    "lyceum_tutor_turns_total",
    "Tutor turns by outcome: completed, cancelled, blocked (guardrails), error (the model failed), "
    "unavailable (PostgreSQL or Redis failed before the turn could be recorded)",
    ["outcome"],
    registry=REGISTRY,
)
OUTCOMES = ("completed", "cancelled", "blocked", "error", "unavailable")
for _outcome in OUTCOMES:  # exported at 0 from the start, so ratios over them are defined before the first error
    TURNS.labels(_outcome)


def observe_turn(state: TurnState) -> None:
    """Count a recorded turn and, when the model produced text, its time to first token."""
    TURNS.labels(state.status if state.status in OUTCOMES else "error").inc()
    if state.first_token_at is not None:
        FIRST_TOKEN.observe(max(0.0, state.first_token_at - state.started))


def observe_unavailable() -> None:
    TURNS.labels("unavailable").inc()
