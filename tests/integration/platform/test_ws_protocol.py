"""The WebSocket protocol `lyceum up` gives uvicorn (app/server/ws_protocol.py), on a real uvicorn server:
sockets opened together get their first keep-alive ping at different times, the pings are sent and
answered, and the handshake's request/response objects are not kept by idle sockets; with the pong deadline
equal to the interval (as `lyceum up` runs) one timer per socket pings and drops a peer that stopped answering."""

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
async def _serve(ping_interval: float, ping_timeout: float | None = None) -> AsyncIterator[tuple[uvicorn.Server, str]]:
    config = uvicorn.Config(
        _echo,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        ws=LyceumWebSocketProtocol,
        ws_ping_interval=ping_interval,
        ws_ping_timeout=ping_interval * 50 if ping_timeout is None else ping_timeout,
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


async def test_one_timer_per_socket_pings_and_drops_a_peer_that_stops_answering() -> None:
    async with _serve(0.2, 0.2) as (server, url), connect(url, ping_interval=None) as client:
        await _until(lambda: len(_protocols(server)) == 1)
        protocol = _protocols(server)[0]
        await _until(lambda: protocol.last_ping_rtt > 0)
        first_ping = protocol.ping_sent_at
        await _until(lambda: protocol.ping_sent_at > first_ping)  # answered pings chain on the one timer
        assert protocol.pong_timer is None
        assert client.close_code is None
    # A peer that completes the handshake and then never reads (so never answers a ping) is closed 1011.
    async with _serve(0.2, 0.2) as (server, url):
        port = int(url.rsplit(":", 1)[1].strip("/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await writer.drain()
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        await _until(lambda: len(_protocols(server)) == 1)
        protocol = _protocols(server)[0]
        await _until(lambda: protocol.pending_ping_payload is not None)  # a ping is out, and stays unanswered
        # One timer: the next ping's, which is also the deadline (uvicorn alone: no ping timer, a pong timer).
        assert protocol.ping_timer is not None
        assert protocol.pong_timer is None
        received = b""
        while chunk := await asyncio.wait_for(reader.read(4096), 60):
            received += chunk  # pings, then the close frame, then EOF
        close = received.rindex(b"\x88")  # the close frame: opcode 8, then its length, then the code
        assert received[close + 2 : close + 4] == (1011).to_bytes(2, "big")
        writer.close()
