"""The fixed-bucket latency histogram of the AI usage rollup (issue 17), and percentiles estimated from it.

Bucket ``i`` counts values in ``[TTFT_BOUNDS_MS[i-1], TTFT_BOUNDS_MS[i])`` (bucket 0: below the first bound;
the last bucket: at or above the last bound), which is what PostgreSQL's ``width_bucket(value, bounds)``
returns, so the rollup fills it in SQL and histograms of any hours merge by adding them element-wise.

Error bound: bounds grow by a factor of 1.25 from 10 ms to ~65 s, so an estimated percentile lies in the same
bucket as the true one: its relative error is below 25 % (interpolation inside the bucket keeps it far
smaller for smooth distributions), or 10 ms for values under 10 ms; values above the last bound are reported
as that bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final


def _bounds() -> tuple[float, ...]:
    bounds: list[float] = []
    value = 10.0
    while value < 70_000:
        bounds.append(round(value, 1))
        value *= 1.25
    return tuple(bounds)


TTFT_BOUNDS_MS: Final[tuple[float, ...]] = _bounds()
TTFT_BUCKETS: Final[int] = len(TTFT_BOUNDS_MS) + 1


def merge(histograms: Sequence[Sequence[int]]) -> list[int]:
    """The element-wise sum of histograms (shorter ones count as zero-padded)."""
    out = [0] * TTFT_BUCKETS
    for histogram in histograms:
        for index, count in enumerate(histogram[:TTFT_BUCKETS]):
            out[index] += count
    return out


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) estimated from a histogram, by linear interpolation inside its bucket;
    ``None`` when the histogram is empty."""
    total = sum(histogram)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = 0.0 if index == 0 else TTFT_BOUNDS_MS[index - 1]
            if index >= len(TTFT_BOUNDS_MS):
                return low
            high = TTFT_BOUNDS_MS[index]
            return low + (high - low) * max(0.0, rank - seen) / count
        seen += count
    return TTFT_BOUNDS_MS[-1]
