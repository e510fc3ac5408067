"""Once a response has started, the idempotency record's Redis write is best effort: an unavailable Redis is
logged (the response already went out; a load test saw the connection dropped instead), a bug is not hidden."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.lib.idempotency import _best_effort


async def _fails(exc: BaseException) -> None:
    raise exc


async def test_an_unavailable_redis_is_logged_not_raised() -> None:
    await _best_effort(_fails(RedisConnectionError("refused")), "lyceum:idem:x")


async def test_other_failures_are_raised() -> None:
    with pytest.raises(KeyError):
        await _best_effort(_fails(KeyError("bug")), "lyceum:idem:x")
