"""95% confidence intervals for an experiment's results: pure functions, no I/O.

- A mean (tokens per turn, rating): mean ± t · sd / √n, with t the 97.5% quantile of Student's t with n - 1
  degrees of freedom (exact table to 30, a Cornish-Fisher expansion above, which tends to z = 1.96).
- A share (escalation, guardrail triggers): the Wilson score interval, which stays inside [0, 1] and is
  sensible at 0 or n events and for small n, unlike the normal approximation p ± z·√(p(1-p)/n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_975 = 1.959963984540054  # the standard normal's 97.5% quantile: two-sided 95%
# Student's t, 97.5% quantile, by degrees of freedom 1..30.
_T_975 = (
    12.706204736,
    4.302652730,
    3.182446305,
    2.776445105,
    2.570581836,
    2.446911851,
    2.364624252,
    2.306004135,
    2.262157163,
    2.228138852,
    2.200985160,
    2.178812830,
    2.160368656,
    2.144786688,
    2.131449546,
    2.119905299,
    2.109815578,
    2.100922040,
    2.093024054,
    2.085963447,
    2.079613845,
    2.073873068,
    2.068657610,
    2.063898562,
    2.059538553,
    2.055529439,
    2.051830516,
    2.048407142,
    2.045229642,
    2.042272456,
)


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(_T_975):
        return _T_975[df - 1]
    z, v = Z_975, float(df)
    # Cornish-Fisher expansion in 1/df: within 1e-5 of the exact value above 30 degrees of freedom.
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def mean_interval(n: int, mean: float, sd: float | None) -> tuple[float | None, float | None]:
    """The 95% interval of a mean of ``n`` observations with sample standard deviation ``sd``; no bounds
    below two observations (the spread is unknown)."""
    if n < 2 or sd is None:
        return None, None
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half


def sample_mean_interval(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """Mean and 95% interval of ``values`` (at least one)."""
    n = len(values)
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in values) / (n - 1)) if n >= 2 else None
    return (mean, *mean_interval(n, mean, sd))


def wilson_interval(count: int, n: int, z: float = Z_975) -> tuple[float, float]:
    """The Wilson score interval of ``count`` events in ``n`` trials (n >= 1)."""
    if n < 1 or not 0 <= count <= n:
        raise ValueError("need 0 <= count <= n and n >= 1")
    p = count / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # At 0 or n events one bound is exactly 0 or 1 (floating point would give 1e-17 or 0.9999999999999999).
    low = 0.0 if count == 0 else max(0.0, centre - half)
    high = 1.0 if count == n else min(1.0, centre + half)
    return low, high
