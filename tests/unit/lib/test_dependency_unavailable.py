"""Out of database connections, or PostgreSQL/Redis down: "try again shortly" (503 + Retry-After), never a 500.

Under load the SQLAlchemy pool's checkout times out, or PostgreSQL refuses one more connection; both used
to reach the catch-all handler as a 500 (and a tutor socket closed 4500, a tutor turn never said `done`).
"""

from __future__ import annotations

import pytest
from asyncpg.exceptions import TooManyConnectionsError  # type: ignore[import-untyped]
from litestar import get
from litestar.testing import create_test_client
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.lib.problems import exception_handlers, is_dependency_unavailable, is_transient_conflict

POOL_TIMEOUT = PoolTimeout("QueuePool limit of size 10 overflow 10 reached, connection timed out, timeout 30.00")
SLOTS = DBAPIError(
    "connect",
    {},
    Exception("remaining connection slots are reserved for non-replication superuser connections"),
)


@pytest.mark.parametrize(
    "exc",
    [
        POOL_TIMEOUT,
        SLOTS,
        TooManyConnectionsError("sorry, too many clients already"),
        RedisConnectionError("down"),
        TimeoutError(),  # asyncpg's command timeout: a statement waited past it (a loaded run saw a 500)
    ],
    ids=["pool-timeout", "slots-reserved", "asyncpg-too-many", "redis-down", "statement-timeout"],
)
def test_capacity_and_outages_are_unavailable(exc: BaseException) -> None:
    assert is_dependency_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bug"),
        DBAPIError("select", {}, Exception('invalid input syntax for type uuid: "x"')),
        IntegrityError("insert", {}, Exception("duplicate key")),
    ],
    ids=["bug", "bad-value", "conflict"],
)
def test_bugs_and_bad_values_are_not(exc: BaseException) -> None:
    assert not is_dependency_unavailable(exc)


@pytest.mark.parametrize(
    "exc", [POOL_TIMEOUT, SLOTS, TimeoutError()], ids=["pool-timeout", "slots-reserved", "statement-timeout"]
)
def test_the_api_answers_503_with_retry_after(exc: Exception) -> None:
    @get("/busy", sync_to_thread=False)
    def busy() -> None:
        raise exc

    with create_test_client([busy], exception_handlers=exception_handlers) as client:
        response = client.get("/busy")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/problem+json")


class _PgError(Exception):
    """What SQLAlchemy's asyncpg adapter puts in ``DBAPIError.orig``: the message and the SQLSTATE."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


DEADLOCK = DBAPIError("delete", {}, _PgError("deadlock detected", "40P01"))
SERIALIZATION = DBAPIError("update", {}, _PgError("could not serialize access", "40001"))


@pytest.mark.parametrize("exc", [DEADLOCK, SERIALIZATION], ids=["deadlock", "serialization"])
def test_a_transaction_postgres_aborted_to_break_a_conflict_is_a_retryable_503(exc: Exception) -> None:
    assert is_transient_conflict(exc)
    assert not is_dependency_unavailable(exc)

    @get("/collide", sync_to_thread=False)
    def collide() -> None:
        raise exc

    with create_test_client([collide], exception_handlers=exception_handlers) as client:
        response = client.get("/collide")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/concurrent-change")


def test_other_database_errors_are_not_transient_conflicts() -> None:
    assert not is_transient_conflict(DBAPIError("select", {}, _PgError("syntax error", "42601")))
    assert not is_transient_conflict(ValueError("bug"))
