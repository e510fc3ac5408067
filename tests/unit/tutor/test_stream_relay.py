"""The relay's own pieces: the provider's SSE parser and the socket's delta coalescing (no servers)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.domain.tutor.providers.anthropic import _SSEParser
from app.domain.tutor.schemas import DeltaEvent, ErrorEvent
from app.domain.tutor.socket import COALESCE_BACKLOG, TutorConnection


def test_sse_parser_handles_split_chunks_crlf_comments_and_multiline_data() -> None:
    parser = _SSEParser()
    wire = b'event: ping\r\ndata: {}\r\n\r\n: keep-alive\n\nevent: content_block_delta\ndata: {"a":\ndata: 1}\n\n'
    events: list[tuple[str, bytes]] = []
    for i in range(len(wire)):  # one byte at a time: every split point, including inside a CRLF
        events += parser.feed(wire[i : i + 1])
    assert events == [("ping", b"{}"), ("content_block_delta", b'{"a":\n1}')]


class _Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, data: str) -> None:
        self.sent.append(data)


def _connection(socket: _Socket) -> TutorConnection:
    connection = TutorConnection.__new__(TutorConnection)
    connection.socket = socket  # type: ignore[assignment]
    connection.closing = False
    return connection


async def test_a_deep_backlog_of_deltas_goes_out_as_one_frame_a_short_one_as_is() -> None:
    socket = _Socket()
    connection = _connection(socket)
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for index in range(COALESCE_BACKLOG + 1):
        queue.put_nowait(DeltaEvent(text=f"w{index} ", message_id="m"))
    queue.put_nowait(ErrorEvent(code="timeout", detail="late", message_id="m"))  # sent after the merged delta
    sender = asyncio.create_task(connection._send_loop(queue))
    await asyncio.sleep(0.01)
    assert len(socket.sent) == 2
    assert socket.sent[0] == (
        '{"type":"delta","text":"' + "".join(f"w{i} " for i in range(COALESCE_BACKLOG + 1)) + '","message_id":"m"}'
    )
    socket.sent.clear()
    for index in range(3):
        queue.put_nowait(DeltaEvent(text=f"x{index} ", message_id="m"))
    await asyncio.sleep(0.01)
    assert len(socket.sent) == 3
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)
