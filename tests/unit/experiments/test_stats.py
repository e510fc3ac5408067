"""The interval maths of experiment results against published values (t tables, Wilson score examples)."""

from __future__ import annotations

import math

import pytest

from app.domain.experiments.stats import (
    Z_975,
    mean_interval,
    sample_mean_interval,
    t_quantile_975,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("df", "expected"),
    [
        (1, 12.7062),
        (2, 4.3027),
        (4, 2.7764),
        (10, 2.2281),
        (29, 2.0452),
        (30, 2.0423),
        (31, 2.0395),
        (40, 2.0211),
        (60, 2.0003),
        (120, 1.9799),
        (1000, 1.9623),
    ],
)
def test_t_quantiles_match_the_table(df: int, expected: float) -> None:
    assert t_quantile_975(df) == pytest.approx(expected, abs=1e-4)


def test_t_tends_to_the_normal_quantile() -> None:
    assert t_quantile_975(10**7) == pytest.approx(Z_975, abs=1e-6)
    assert all(t_quantile_975(df) > t_quantile_975(df + 1) for df in range(1, 200))  # monotone, no seam at 30
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile_975(0)


def test_mean_interval_of_a_small_sample_uses_t() -> None:
    # 1..5: mean 3, sd 1.5811, t(4) = 2.7764 -> 3 ± 1.9632
    mean, low, high = sample_mean_interval([1, 2, 3, 4, 5])
    assert mean == 3
    assert (low, high) == (pytest.approx(1.0368, abs=1e-4), pytest.approx(4.9632, abs=1e-4))
    # 100..400: mean 250, sd 129.10, t(3) = 3.1824 -> 250 ± 205.43
    mean, low, high = sample_mean_interval([100, 200, 300, 400])
    assert (mean, low, high) == (250, pytest.approx(44.574, abs=1e-3), pytest.approx(455.426, abs=1e-3))


def test_mean_interval_of_a_large_sample_is_close_to_the_normal_one() -> None:
    low, high = mean_interval(10_000, 10.0, 2.0)
    assert low is not None
    assert high is not None
    assert (high - low) / 2 == pytest.approx(Z_975 * 2.0 / 100, rel=1e-3)


def test_no_interval_below_two_observations_or_without_spread() -> None:
    assert mean_interval(1, 4.0, None) == (None, None)
    assert mean_interval(0, 0.0, 1.0) == (None, None)
    assert sample_mean_interval([4.0]) == (4.0, None, None)
    assert mean_interval(3, 4.0, 0.0) == (4.0, 4.0)  # identical observations: a zero-width interval


@pytest.mark.parametrize(
    ("count", "n", "low", "high"),
    [
        (5, 10, 0.2366, 0.7634),
        (10, 40, 0.1419, 0.4019),
        (1, 4, 0.0456, 0.6994),
        (0, 3, 0.0, 0.5615),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998), Statistics in Medicine 17:857, table I
    ],
)
def test_wilson_interval_matches_published_values(count: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(count, n)
    assert got_low == pytest.approx(low, abs=1e-4)
    assert got_high == pytest.approx(high, abs=1e-4)


def test_wilson_interval_stays_in_bounds_and_contains_the_rate() -> None:
    for n in (1, 2, 7, 50, 999):
        for count in range(0, n + 1, max(1, n // 7)):
            low, high = wilson_interval(count, n)
            assert 0.0 <= low <= count / n <= high <= 1.0
            assert not math.isnan(low + high)
    for bad in ((1, 0), (-1, 5), (6, 5)):
        with pytest.raises(ValueError, match="count <= n"):
            wilson_interval(*bad)
