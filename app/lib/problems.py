"""Map every exception to an RFC 9457 problem document, with field paths for validation errors."""

from __future__ import annotations

from typing import Any

import structlog
from asyncpg.exceptions import (  # type: ignore[import-untyped]
    AdminShutdownError,
    CannotConnectNowError,
    ConnectionDoesNotExistError,
    CrashShutdownError,
    InternalClientError,
    TooManyConnectionsError,
)
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.lib.errors import (
    PROBLEM_BASE,
    ConcurrentChange,
    Conflict,
    LyceumError,
    MalformedRequest,
    ServiceUnavailable,
    ValidationFailed,
)

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("lyceum.errors")

_HTTP_SLUGS = {
    400: ("malformed", "The request could not be read"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "You are not allowed to do this"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
}


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    type_: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _lyceum_error(request: Request[Any, Any, Any], exc: LyceumError) -> Response[dict[str, Any]]:
    return problem_response(
        request,
        status=exc.status,
        type_=exc.type,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


def _field_errors(extra: Any) -> list[dict[str, Any]]:
    """Litestar's msgspec errors carry ``key`` ("email", "limit") and ``source`` (body, query, path)."""
    errors: list[dict[str, Any]] = []
    for item in extra if isinstance(extra, list) else []:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "")
        source = item.get("source") or "body"
        entry: dict[str, Any] = {"detail": str(item.get("message", "invalid"))}
        if source == "body":
            entry["pointer"] = "#/" + key.removeprefix("$.").replace(".", "/").replace("[", "/").replace("]", "")
            if key in ("", "$"):
                entry["pointer"] = "#"
        else:
            entry[
                {"query": "parameter", "path": "parameter", "header": "header", "cookie": "cookie"}.get(
                    str(source), "parameter"
                )
            ] = key
        errors.append(entry)
    return errors


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    detail = str(exc.detail)
    lowered = detail.lower()
    if "malformed" in lowered or "json is malformed" in lowered or "invalid json" in lowered:
        return _lyceum_error(request, MalformedRequest(detail))
    errors = _field_errors(exc.extra)
    if not errors and ":" in detail:
        errors = [{"detail": detail}]
    return _lyceum_error(request, ValidationFailed(_summary(errors) or detail, errors=errors))


def _summary(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:3]:
        where = e.get("pointer") or e.get("parameter") or e.get("header") or ""
        parts.append(f"{where}: {e['detail']}" if where else e["detail"])
    return "; ".join(parts)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "Request failed"))
    detail = exc.detail if exc.detail and exc.detail != title else title
    if exc.status_code >= 500:
        # Litestar's own 5xx (e.g. ImproperlyConfiguredException) describe the server's insides: log
        # them, answer like any unexpected error. Lyceum's deliberate 503s are LyceumErrors, not these.
        log.error("http_exception", status=exc.status_code, detail=exc.detail)
        slug, title = "internal", "Internal error"
        detail = "Something went wrong on our side; the request id helps us find it."
    return problem_response(
        request, status=exc.status_code, type_=PROBLEM_BASE + slug, title=title, detail=str(detail), headers=exc.headers
    )


def _integrity_error(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, Any]]:
    # A constraint caught what validation missed (e.g. a concurrent duplicate): the transaction is
    # already rolled back, so nothing was half-written.
    log.warning("integrity_error", error=str(exc.orig).splitlines()[0] if exc.orig else str(exc))
    return _lyceum_error(request, Conflict("The change conflicts with existing data"))


# The server's own "no room for you" refusals: capacity, not a bug, and gone once the load passes.
_SERVER_BUSY = ("too many connections", "remaining connection slots are reserved", "the database system is")
# The connection died under the statement: the server was restarted, failed over, or an operator terminated
# the backend (pg_terminate_backend; the PostgreSQL chaos drill, tests/chaos/, answered these with 500s). The
# asyncpg state error follows such a loss on the same connection. The pool replaces the connection; the
# request may be retried.
_CONNECTION_LOST = (
    "connection was closed in the middle of operation",
    "connection is closed",
    "terminating connection due to administrator command",
    "server closed the connection unexpectedly",
    "cannot switch to state",
)


def is_dependency_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means PostgreSQL or Redis cannot serve this request right now (down, restarting, or
    out of connections: the pool's checkout timed out or the server refused one more), so the right answer
    is "try again shortly" (503 with Retry-After, WebSocket 1013, a tutor ``unavailable`` event), not a 5xx
    that reads as a bug. Shared by the HTTP handlers and the streaming paths, which have no handler map."""
    if isinstance(
        exc,
        PoolTimeout
        | TimeoutError  # a statement past the driver's command timeout (a lock wait or an overloaded server)
        | OperationalError
        | RedisConnectionError
        | RedisTimeoutError
        | ConnectionError
        | TooManyConnectionsError
        | CannotConnectNowError
        | AdminShutdownError
        | CrashShutdownError
        | ConnectionDoesNotExistError,
    ):
        return True
    if isinstance(exc, InternalClientError):  # raw asyncpg, outside SQLAlchemy's wrapping (pool events)
        return any(phrase in str(exc) for phrase in _CONNECTION_LOST)
    if isinstance(exc, DBAPIError):
        message = str(exc.orig) if exc.orig else str(exc)
        return any(phrase in message for phrase in (*_SERVER_BUSY, *_CONNECTION_LOST))
    return False


# deadlock_detected and serialization_failure: PostgreSQL rolled one transaction back so the others can go on.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def is_transient_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL breaking a deadlock or a serialization conflict: the transaction
    wrote nothing and running it again is the cure (app/db/engine.retry_transient does, where it is safe)."""
    orig = getattr(exc, "orig", None)
    for candidate in (exc, orig, getattr(orig, "__cause__", None)):
        if (getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)) in _TRANSIENT_SQLSTATES:
            return True
    return False


def _database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    if is_dependency_unavailable(exc):
        return _dependency_down(request, exc)
    if is_transient_conflict(exc):
        log.warning("transient_conflict", error=str(exc.orig).splitlines()[0] if exc.orig else str(exc))
        return _lyceum_error(
            request,
            ConcurrentChange(
                "Another change to the same data happened at the same moment; nothing was saved. Try again.",
                headers={"Retry-After": "1"},
            ),
        )
    message = str(exc.orig) if exc.orig else str(exc)
    if "invalid input" in message or "out of range" in message or "value too long" in message:
        return _lyceum_error(request, ValidationFailed("A value is not valid for the database"))
    return _unexpected(request, exc)


def _dependency_down(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("dependency_unavailable", error_type=type(exc).__name__, error=str(exc)[:200])
    return _lyceum_error(
        request, ServiceUnavailable("A backing service is unavailable; try again shortly", headers={"Retry-After": "5"})
    )


def _asyncpg_client_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # asyncpg's own state errors reach here unwrapped from the pool's connection events; after a lost
    # connection they mean "try again" (the pool has replaced it), anything else is a bug.
    return _dependency_down(request, exc) if is_dependency_unavailable(exc) else _unexpected(request, exc)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return problem_response(
        request,
        status=500,
        type_=PROBLEM_BASE + "internal",
        title="Internal error",
        detail="Something went wrong on our side; the request id helps us find it.",
    )


exception_handlers: ExceptionHandlersMap = {
    LyceumError: _lyceum_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    IntegrityError: _integrity_error,
    DBAPIError: _database_error,
    OperationalError: _dependency_down,
    RedisConnectionError: _dependency_down,
    RedisTimeoutError: _dependency_down,
    ConnectionError: _dependency_down,
    PoolTimeout: _dependency_down,
    TimeoutError: _dependency_down,
    TooManyConnectionsError: _dependency_down,
    CannotConnectNowError: _dependency_down,
    AdminShutdownError: _dependency_down,
    CrashShutdownError: _dependency_down,
    ConnectionDoesNotExistError: _dependency_down,
    InternalClientError: _asyncpg_client_error,
    Exception: _unexpected,
}

__all__ = [
    "PROBLEM_JSON",
    "MediaType",
    "exception_handlers",
    "is_dependency_unavailable",
    "is_transient_conflict",
    "problem_response",
]
