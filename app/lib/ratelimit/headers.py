"""Response headers for a rate-limit Decision (draft-ietf-httpapi-ratelimit-headers, structured fields).

Example, for buckets [user, org] with the user bucket limiting:

    RateLimit-Policy: "user";q=120;w=60, "org";q=2000;w=50
    RateLimit: "user";r=17;t=52
    Retry-After: 3                      (only when refused)
"""

from __future__ import annotations

import functools
import math

from app.lib.ratelimit.limiter import Bucket, Decision

__all__ = ["rate_limit_headers"]


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    headers = {
        "RateLimit-Policy": _policy(tuple((b.name, b.burst, b.per_second) for b in decision.buckets)),
        "RateLimit": f"{_sf_name(decision.limiting.name)};r={max(0, decision.remaining)};t={_ceil(decision.reset)}",
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, _ceil(decision.retry_after)))
    return headers


@functools.lru_cache(maxsize=64)
def _policy(buckets: tuple[tuple[str, int, float], ...]) -> str:
    """The policy header depends on the configured limits only: built once per set of limits (issue 15)."""
    return ", ".join(
        f"{_sf_string(name)};q={burst};w={_window_seconds(Bucket(name, '', burst, per_second))}"
        for name, burst, per_second in buckets
    )


@functools.lru_cache(maxsize=64)
def _sf_name(name: str) -> str:
    return _sf_string(name)


def _ceil(seconds: float) -> int:
    # Round first so float noise (60.000000000001) does not add a second.
    return max(0, math.ceil(round(seconds, 6)))


def _window_seconds(b: Bucket) -> int:
    return max(1, _ceil(b.burst / b.per_second))


def _sf_string(value: str) -> str:
    """An RFC 8941 sf-string: printable ASCII only, with backslash and double quote escaped."""
    printable = "".join(ch for ch in value if " " <= ch <= "~")
    return '"' + printable.replace("\\", "\\\\").replace('"', '\\"') + '"'
