"""The rollup's latency histogram: bucket edges as PostgreSQL's width_bucket numbers them, merging, and the
documented error bound of its percentiles."""

from __future__ import annotations

import bisect
import itertools
import random

from app.lib.histogram import TTFT_BOUNDS_MS, TTFT_BUCKETS, merge, percentile


def _histogram(values: list[float]) -> list[int]:
    counts = [0] * TTFT_BUCKETS
    for value in values:
        counts[bisect.bisect_right(TTFT_BOUNDS_MS, value)] += 1  # width_bucket's numbering
    return counts


def test_bounds_grow_by_a_quarter() -> None:
    ratios = [b / a for a, b in itertools.pairwise(TTFT_BOUNDS_MS)]
    assert all(1.24 <= r <= 1.26 for r in ratios)
    assert TTFT_BOUNDS_MS[0] == 10.0
    assert TTFT_BOUNDS_MS[-1] > 60_000


def test_an_empty_histogram_has_no_percentile() -> None:
    assert percentile([0] * TTFT_BUCKETS, 0.5) is None


def test_merging_adds_counts() -> None:
    assert merge([[1, 2], [0, 3, 4]])[:3] == [1, 5, 4]


def test_percentiles_stay_within_a_quarter_of_the_exact_ones() -> None:
    rng = random.Random(17)
    values = sorted(rng.lognormvariate(6.0, 0.8) for _ in range(5000))
    histogram = _histogram(values)
    for q in (0.5, 0.9, 0.95, 0.99):
        exact = values[int(q * len(values)) - 1]
        estimate = percentile(histogram, q)
        assert estimate is not None
        assert abs(estimate - exact) <= 0.25 * exact, (q, estimate, exact)
