"""Bayesian Knowledge Tracing, written out (no library): the equations of docs/adaptive.md "Mastery model".

Each competency has four parameters: ``prior`` p(L0), the chance the learner knows it before any evidence;
``learn`` p(T), the chance of learning it at each opportunity; ``slip`` p(S), of answering wrong while
knowing it; ``guess`` p(G), of answering right without knowing it."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PRIOR = 0.2
DEFAULT_LEARN = 0.15
DEFAULT_SLIP = 0.1
DEFAULT_GUESS = 0.2

# A completed exercise is self-reported practice, not a graded answer: it moves the estimate half as far
# towards "correct" as a passed assessment would (then the learning step applies as usual).
EXERCISE_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class BKTParams:
    prior: float = DEFAULT_PRIOR
    learn: float = DEFAULT_LEARN
    slip: float = DEFAULT_SLIP
    guess: float = DEFAULT_GUESS

    def __post_init__(self) -> None:
        for name in ("prior", "learn", "slip", "guess"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        if self.slip >= 0.5 or self.guess >= 0.5:
            # With slip or guess at 0.5 or more a right answer stops being evidence of knowing.
            raise ValueError("slip and guess must each be below 0.5")


def posterior(p_known: float, correct: bool, params: BKTParams) -> float:
    """p(L | observation): Bayes' rule on one answer."""
    s, g = params.slip, params.guess
    if correct:
        numerator = p_known * (1.0 - s)
        denominator = numerator + (1.0 - p_known) * g
    else:
        numerator = p_known * s
        denominator = numerator + (1.0 - p_known) * (1.0 - g)
    return numerator / denominator if denominator > 0.0 else p_known


def learn(p_known: float, params: BKTParams) -> float:
    """p(L_next) = p(L | obs) + (1 - p(L | obs)) p(T): the chance of learning at this opportunity."""
    return p_known + (1.0 - p_known) * params.learn


def update(p_known: float, correct: bool, params: BKTParams, weight: float = 1.0) -> float:
    """One observation: the posterior (moved ``weight`` of the way from the current estimate), then the
    learning step. ``weight`` 1 is standard BKT; an exercise completion uses ``EXERCISE_WEIGHT``."""
    observed = posterior(p_known, correct, params)
    blended = p_known + weight * (observed - p_known)
    return learn(blended, params)
