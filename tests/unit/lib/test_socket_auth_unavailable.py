"""A socket whose token cannot be checked because Redis or PostgreSQL is away is told to try again (1013), as
HTTP answers 503; a token that does not authenticate stays 4401. (The load test found 4500 closes.)"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.lib.errors import LyceumError
from app.lib.sockets import CLOSE_NOT_AUTHENTICATED, CLOSE_TRY_AGAIN, SocketRefused, authenticate


class _Denylist:
    def __init__(self, failure: BaseException) -> None:
        self.failure = failure

    async def check(self, principal: Any) -> Any:
        raise self.failure


def _edge(failure: BaseException) -> Any:
    return SimpleNamespace(tokens=SimpleNamespace(principal=lambda token: token), denylist=_Denylist(failure))


_SOCKET: Any = SimpleNamespace(headers={"authorization": "Bearer a-token"})


@pytest.mark.parametrize("failure", [PoolTimeout("pool exhausted"), RedisConnectionError("refused")])
async def test_an_unavailable_store_closes_with_try_again(failure: BaseException) -> None:
    with pytest.raises(SocketRefused) as refused:
        await authenticate(_SOCKET, _edge(failure))
    assert refused.value.code == CLOSE_TRY_AGAIN


async def test_a_bad_token_is_still_not_authenticated() -> None:
    with pytest.raises(SocketRefused) as refused:
        await authenticate(_SOCKET, _edge(LyceumError("token revoked")))
    assert refused.value.code == CLOSE_NOT_AUTHENTICATED


async def test_a_bug_is_not_disguised_as_an_outage() -> None:
    with pytest.raises(KeyError):
        await authenticate(_SOCKET, _edge(KeyError("bug")))
