"""Agreement between AI and human grades: exact agreement and Cohen's kappa."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def exact_agreement(pairs: Sequence[tuple[float, float]]) -> float | None:
    if not pairs:
        return None
    return round(sum(1 for ai, human in pairs if abs(ai - human) < 1e-9) / len(pairs), 4)


def cohens_kappa(labels: Sequence[tuple[str, str]]) -> float | None:
    """Kappa = (p_o - p_e) / (1 - p_e) over two raters' categorical labels. None without data; 1.0 when
    both raters always give one and the same label (perfect agreement with no chance variation)."""
    n = len(labels)
    if n == 0:
        return None
    observed = sum(1 for a, b in labels if a == b) / n
    first, second = Counter(a for a, _ in labels), Counter(b for _, b in labels)
    expected = sum(first[c] * second[c] for c in set(first) | set(second)) / (n * n)
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return round((observed - expected) / (1 - expected), 4)


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
