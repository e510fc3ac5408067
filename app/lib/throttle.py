"""Where and how the rate limiter applies: policies, fail modes and response headers.

Policies (limits from configuration):
- ``api``: per user, per org and global token buckets on authenticated hot paths (route opt ``rate_limit``).
- ``login``: per account (org + email), per org and global, checked by the login service before any
  password work; a password change (which verifies the current password) spends a per-user bucket of
  the same size and the global login bucket (``password_buckets``).

When Redis cannot be reached: safe methods (GET/HEAD) fail *open* (served, counted in
``lyceum_rate_limit_backend_errors_total``); login and other writes fail *closed* (503).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.lib.errors import RateLimited, ServiceUnavailable
from app.lib.observability import RATE_LIMIT_DECISIONS, RATE_LIMIT_ERRORS
from app.lib.ratelimit import Bucket, Decision, RateLimiterUnavailable, bucket, rate_limit_headers
from app.lib.resources import edge_resources

if TYPE_CHECKING:
    from app.config import Settings
    from app.lib.ratelimit import TokenBucketLimiter
    from app.lib.security.principal import Principal

RATE_LIMIT = "rate_limit"  # route opt: the policy name
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
log = structlog.get_logger("lyceum.ratelimit")


def api_buckets(s: Settings, principal: Principal) -> list[Bucket]:
    return [
        bucket("user", f"rl:api:user:{principal.user_id}", s.rate_limit_api_user),
        bucket("org", f"rl:api:org:{principal.org_id}", s.rate_limit_api_org),
        bucket("global", "rl:api:global", s.rate_limit_api_global),
    ]


def login_buckets(s: Settings, org_slug: str, email: str) -> list[Bucket]:
    account = hashlib.sha256(f"{org_slug}\x00{email.lower()}".encode()).hexdigest()[:32]
    return [
        bucket("account", f"rl:login:account:{account}", s.rate_limit_login_user),
        bucket("org", f"rl:login:org:{hashlib.sha256(org_slug.encode()).hexdigest()[:16]}", s.rate_limit_login_org),
        bucket("global", "rl:login:global", s.rate_limit_login_global),
    ]


def invitation_buckets(s: Settings, token: str) -> list[Bucket]:
    """The public invitation page (issue 17) is throttled like sign-in: per token, and the global sign-in
    bucket, so guessing tokens costs what guessing passwords does."""
    key = hashlib.sha256(token.encode()).hexdigest()[:32]
    return [
        bucket("account", f"rl:invite:token:{key}", s.rate_limit_login_user),
        bucket("global", "rl:login:global", s.rate_limit_login_global),
    ]


def password_buckets(s: Settings, user_id: object) -> list[Bucket]:
    """Guessing the current password through a password change (with a stolen access token) is throttled
    like guessing it at login."""
    return [
        bucket("account", f"rl:password:user:{user_id}", s.rate_limit_login_user),
        bucket("global", "rl:login:global", s.rate_limit_login_global),
    ]


async def enforce(
    settings: Settings, limiter: TokenBucketLimiter, policy: str, buckets: Sequence[Bucket], *, fail_open: bool
) -> Decision | None:
    """Charge one request; raise RateLimited (429) when refused. None means the limiter was unavailable
    and the request is let through (fail-open); fail-closed raises ServiceUnavailable instead."""
    if not settings.rate_limit_enabled:
        return None
    try:
        decision = await limiter.hit(buckets)
    except RateLimiterUnavailable as exc:
        mode = "open" if fail_open else "closed"
        RATE_LIMIT_ERRORS.labels(policy, mode).inc()
        log.warning("rate_limiter_unavailable", policy=policy, mode=mode)
        if fail_open:
            return None
        raise ServiceUnavailable(
            "Rate limiting is unavailable; try again shortly", headers={"Retry-After": "5"}
        ) from exc
    RATE_LIMIT_DECISIONS.labels(policy, "allow" if decision.allowed else "deny").inc()
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit '{decision.limiting.name}' exceeded; retry in {decision.retry_after:.1f}s",
            headers=rate_limit_headers(decision),
            extra={"limit": decision.limiting.name, "retry_after": round(decision.retry_after, 3)},
        )
    return decision


class RateLimitMiddleware:
    """Applies the ``api`` policy to routes marked with the ``rate_limit`` opt and adds RateLimit headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        principal = scope.get("state", {}).get("principal")
        policy = handler.opt.get(RATE_LIMIT) if handler is not None else None
        if scope["type"] != ScopeType.HTTP or not policy or principal is None:
            await self.app(scope, receive, send)
            return
        edge = edge_resources(scope["app"])
        decision = await enforce(
            edge.settings,
            edge.limiter,
            policy,
            api_buckets(edge.settings, principal),
            fail_open=scope["method"] in SAFE_METHODS,
        )
        if decision is None:
            await self.app(scope, receive, send)
            return
        # Appended as raw header pairs (no handler sets RateLimit headers itself, and a refusal never gets
        # here): MutableScopeHeaders' search-and-replace cost ~5 % of a cached course read (issue 15).
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in rate_limit_headers(decision).items()
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
