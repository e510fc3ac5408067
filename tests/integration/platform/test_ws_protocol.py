"""The WebSocket protocol `lyceum up` gives uvicorn (app/server/ws_protocol.py), on a real uvicorn server:
sockets opened together get their first keep-alive ping at different times, the pings are sent and
answered, and the handshake's request/response objects are not kept by idle sockets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from websockets.asyncio.client import connect

from app.config import Settings
from app.lib.sockets import WS_PROTOCOL, uvicorn_ws_args
from app.server.ws_protocol import LyceumWebSocketProtocol


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


@contextlib.asynccontextmanager
async def _serve(ping_interval: float) -> AsyncIterator[tuple[uvicorn.Server, str]]:
    config = uvicorn.Config(
        _echo,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        ws=LyceumWebSocketProtocol,
        ws_ping_interval=ping_interval,
        ws_ping_timeout=ping_interval * 50,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert not serving.done(), "uvicorn stopped while starting"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield server, f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await serving


def _protocols(server: uvicorn.Server) -> list[LyceumWebSocketProtocol]:
    return [c for c in server.server_state.connections if isinstance(c, LyceumWebSocketProtocol)]


async def _until(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def test_lyceum_up_and_the_benchmarks_use_this_protocol() -> None:
    args = uvicorn_ws_args(Settings())
    assert args[args.index("--ws") + 1] == WS_PROTOCOL == "app.server.ws_protocol:LyceumWebSocketProtocol"


async def test_sockets_opened_together_get_their_first_ping_spread_over_the_interval() -> None:
    interval = 30.0
    async with _serve(interval) as (server, url):
        clients = await asyncio.gather(*(connect(url, ping_interval=None) for _ in range(20)))
        await _until(lambda: len(_protocols(server)) == 20 and all(p.ping_timer for p in _protocols(server)))
        loop = asyncio.get_running_loop()
        delays = [p.ping_timer.when() - loop.time() for p in _protocols(server) if p.ping_timer is not None]
        # Uvicorn alone would schedule all twenty at ~30 s; here each is uniform in (0, 30]: twenty draws
        # all within one second of each other happen with probability ~1e-28.
        assert all(0 < d <= interval for d in delays)
        assert max(delays) - min(delays) > 1.0
        assert all(p.request is None and p.response is None for p in _protocols(server))
        await asyncio.gather(*(c.close() for c in clients))


async def test_keepalive_pings_are_sent_answered_and_keep_the_socket_open() -> None:
    async with _serve(0.2) as (server, url), connect(url, ping_interval=None) as client:
        await _until(lambda: len(_protocols(server)) == 1)
        protocol = _protocols(server)[0]
        await _until(lambda: protocol.last_ping_rtt > 0)  # a ping went out and its pong came back
        first_ping = protocol.ping_sent_at
        await _until(lambda: protocol.ping_sent_at > first_ping)  # and the next one followed
        assert client.close_code is None
        await client.send("still here")
