"""The one error hierarchy. Every error leaves the API as RFC 9457 ``application/problem+json``."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://lyceum.dev/problems/"
RETRY_AFTER_SECONDS = 5  # default Retry-After of every 503


class LyceumError(Exception):
    """Base of every error the API answers deliberately. Subclasses fix status, type and title."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug


class ValidationFailed(LyceumError):
    status, slug, title = 422, "validation", "The request did not validate"


class MalformedRequest(LyceumError):
    status, slug, title = 400, "malformed", "The request could not be read"


class NotAuthenticated(LyceumError):
    status, slug, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="lyceum"'})
        super().__init__(detail, **kwargs)


class InvalidCredentials(NotAuthenticated):
    slug, title = "invalid-credentials", "Invalid credentials"


class Forbidden(LyceumError):
    status, slug, title = 403, "forbidden", "You are not allowed to do this"


class NotFound(LyceumError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(LyceumError):
    status, slug, title = 409, "conflict", "Conflict"


class IdempotencyKeyReused(LyceumError):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused with a different request"


class PayloadTooLarge(LyceumError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class RateLimited(LyceumError):
    status, slug, title = 429, "rate-limited", "Too many requests"


class ServiceUnavailable(LyceumError):
    status, slug, title = 503, "unavailable", "A service Lyceum depends on is unavailable"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        # Every 503 says when to come back, so clients back off instead of hammering (RFC 9110 10.2.3).
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(kwargs.pop("headers", None) or {})}
        super().__init__(detail, headers=headers, **kwargs)


class ConcurrentChange(ServiceUnavailable):
    """PostgreSQL aborted the transaction to break a deadlock or a serialization conflict with another
    change made at the same moment: nothing was written, and the same request sent again succeeds."""

    slug, title = "concurrent-change", "The request collided with another change"
