"""A tutor turn's events delivered over HTTP: all at once (JSON), or as server-sent events with pings while
idle. One place for both the learner's tutor and the authoring preview's, so their answers cannot drift."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
from litestar.response import ServerSentEventMessage

from app.domain.tutor.schemas import TutorEvent
from app.lib.sockets import SSE_PING, SSE_PING_SECONDS

Emit = Callable[[TutorEvent], Awaitable[None]]
RunTurn = Callable[[Emit], Awaitable[None]]
_encoder = msgspec.json.Encoder()


async def collect_events(run: RunTurn) -> dict[str, Any]:
    """Without Accept: text/event-stream, answer once with every event and the whole reply."""
    events: list[TutorEvent] = []

    async def emit(event: TutorEvent) -> None:
        events.append(event)

    await run(emit)
    builtins = [msgspec.to_builtins(e) for e in events]
    return {"reply": "".join(e["text"] for e in builtins if e["type"] == "delta"), "events": builtins}


async def sse_events(run: RunTurn, queue_size: int) -> AsyncIterator[ServerSentEventMessage]:
    """The turn's events as server-sent events named by their type (the data is the event without it)."""
    queue: asyncio.Queue[TutorEvent | None] = asyncio.Queue(maxsize=queue_size)

    async def emit(event: TutorEvent) -> None:
        await queue.put(event)  # back-pressure: the turn waits for a slow SSE reader, bounded by the queue

    async def produce() -> None:
        try:
            await run(emit)
        finally:
            await queue.put(None)

    task = asyncio.create_task(produce())
    try:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), SSE_PING_SECONDS)
            except TimeoutError:
                # The shared keep-alive: a comment only. ServerSentEventMessage(comment=...) alone also writes an
                # empty "data:" line, which EventSource dispatches as an empty message (the chaos drill's SSE
                # client choked on it during a long model stall).
                yield SSE_PING
                continue
            if event is None:
                break
            payload = msgspec.to_builtins(event)
            yield ServerSentEventMessage(event=payload.pop("type"), data=_encoder.encode(payload).decode())
    finally:
        # The client went away (or we finished): cancel the turn so its budget hold is released and the
        # interaction is recorded as cancelled.
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(task, return_exceptions=True)
