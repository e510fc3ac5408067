"""Response headers for a rate-limit Decision (draft-ietf-httpapi-ratelimit-headers, structured fields).

Example, for buckets [user, org] with the user bucket limiting:

    RateLimit-Policy: "user";q=120;w=60, "org";q=2000;w=50
    RateLimit: "user";r=17;t=52
    Retry-After: 3                      (only when refused)
"""

from __future__ import annotations

import math

from app.lib.ratelimit.limiter import Bucket, Decision

__all__ = ["rate_limit_headers"]


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    headers = {
        "RateLimit-Policy": ", ".join(
            f"{_sf_string(b.name)};q={b.burst};w={_window_seconds(b)}" for b in decision.buckets
        ),
        "RateLimit": f"{_sf_string(decision.limiting.name)};r={max(0, decision.remaining)};t={_ceil(decision.reset)}",
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, _ceil(decision.retry_after)))
    return headers


def _ceil(seconds: float) -> int:
    # Round first so float noise (60.000000000001) does not add a second.
    return max(0, math.ceil(round(seconds, 6)))


def _window_seconds(b: Bucket) -> int:
    return max(1, _ceil(b.burst / b.per_second))


def _sf_string(value: str) -> str:
    """An RFC 8941 sf-string: printable ASCII only, with backslash and double quote escaped."""
    printable = "".join(ch for ch in value if " " <= ch <= "~")
    return '"' + printable.replace("\\", "\\\\").replace('"', '\\"') + '"'
