"""The project's one rate limiter: Redis Lua token bucket, plus response headers."""

from app.lib.ratelimit.headers import rate_limit_headers
from app.lib.ratelimit.limiter import (
    Bucket,
    Decision,
    RateLimiterUnavailable,
    TokenBucketLimiter,
    bucket,
)

__all__ = [
    "Bucket",
    "Decision",
    "RateLimiterUnavailable",
    "TokenBucketLimiter",
    "bucket",
    "rate_limit_headers",
]
