"""The tutor WebSocket: authentication, origin check, a bounded send queue, one reply at a time, cancel.

Close codes: 4401 not authenticated, 4400 a first frame that is not JSON, 4403 not your session or
origin refused, 4404 unknown session, 4408 client too slow (its send queue overflowed), 1009 a frame
above the socket's limit (app/lib/sockets.py), 1000 normal.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from uuid import UUID

import msgspec
import structlog
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from app.domain.components import Components
from app.domain.deps import provide_tenant_db
from app.domain.tutor.chat import ChatSession
from app.domain.tutor.deps import provide_tutor_service, turn_runner
from app.domain.tutor.schemas import MODES, DeltaEvent, ErrorEvent, TutorEvent
from app.domain.tutor.services import with_mode
from app.domain.tutor.turns import TurnRunner
from app.lib.errors import Forbidden, LyceumError, NotFound, ValidationFailed
from app.lib.inputs import check_decoded, decode_frame
from app.lib.problems import is_dependency_unavailable
from app.lib.security.principal import Principal
from app.lib.sockets import (
    CLOSE_FORBIDDEN,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_SLOW,
    CLOSE_TRY_AGAIN,
    SLOW_CONSUMERS,
    FrameTooBig,
    accept_authenticated,
    close_quietly,
    receive_frame,
    tutor_frame_max_bytes,
)

log = structlog.get_logger("lyceum.tutor.ws")
_encoder = msgspec.json.Encoder()
_CLOSE = object()  # tells the sender to stop
COALESCE_BACKLOG = 16  # queued events at which waiting deltas are merged into one frame


class TutorConnection:
    """One tutor socket. Idle sockets are most of them (a learner keeps the panel open between
    questions), so the turn runner (with its search service and retriever), the send queue and its
    sender task are created on the first message or event, not per socket, and the attributes live in
    slots."""

    __slots__ = (
        "chat",
        "closing",
        "components",
        "max_frame_bytes",
        "principal",
        "queue",
        "queue_size",
        "runner",
        "sender",
        "socket",
        "turn",
        "turn_id",
    )

    def __init__(
        self, socket: WebSocket[Any, Any, Any], components: Components, chat: ChatSession, principal: Principal
    ) -> None:
        self.socket = socket
        self.components = components
        self.chat = chat
        self.principal = principal
        self.runner: TurnRunner | None = None
        settings = components.settings
        self.queue_size = settings.ws_send_queue_size
        self.max_frame_bytes = tutor_frame_max_bytes(settings)
        self.queue: asyncio.Queue[TutorEvent | object] | None = None
        self.sender: asyncio.Task[None] | None = None
        self.turn: asyncio.Task[None] | None = None
        self.turn_id = ""
        self.closing = False

    async def emit(self, event: TutorEvent) -> None:
        if self.closing:
            return
        if self.queue is None:
            self.queue = asyncio.Queue(maxsize=self.queue_size)
            self.sender = asyncio.create_task(self._send_loop(self.queue))
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # Never let a slow reader grow our memory or hold up the model stream: drop it.
            SLOW_CONSUMERS.labels("tutor").inc()
            self.closing = True
            log.warning("ws_slow_consumer_closed")
            if self.turn is not None:
                self.turn.cancel()
            with contextlib.suppress(Exception):
                await self.socket.close(code=CLOSE_TOO_SLOW, reason="client too slow")

    async def _send_loop(self, queue: asyncio.Queue[TutorEvent | object]) -> None:
        pending: TutorEvent | object | None = None
        while True:
            event = pending if pending is not None else await queue.get()
            pending = None
            if event is _CLOSE:
                return
            if isinstance(event, DeltaEvent) and queue.qsize() >= COALESCE_BACKLOG:
                # The socket fell well behind the model: send the waiting deltas of this reply as one
                # frame (concatenated deltas are the reply either way) instead of one write per token, so
                # a briefly slow reader catches up instead of overflowing into a 4408 close. A short
                # backlog is sent as it is: clients show the reply growing token by token.
                texts = [event.text]
                while not queue.empty():
                    following = queue.get_nowait()
                    if isinstance(following, DeltaEvent) and following.message_id == event.message_id:
                        texts.append(following.text)
                    else:
                        pending = following
                        break
                if len(texts) > 1:
                    event = DeltaEvent(text="".join(texts), message_id=event.message_id)
            await self.socket.send_text(_encoder.encode(event).decode())

    async def serve(self) -> None:
        try:
            while not self.closing:
                try:
                    raw = await receive_frame(self.socket, self.max_frame_bytes)
                except WebSocketDisconnect:
                    break
                except FrameTooBig:
                    self.closing = True
                    await close_quietly(self.socket, CLOSE_MESSAGE_TOO_BIG, "message too big")
                    break
                try:
                    frame = decode_frame(raw)  # not JSON, too deep, not UTF-8: the detail says which, safely
                except LyceumError as exc:
                    await self.emit(ErrorEvent(code="invalid_frame", detail=exc.detail))
                    continue
                try:
                    check_decoded(raw, frame)  # NUL, which the database cannot store, in any string
                except ValidationFailed as exc:
                    await self._refuse(frame, exc.detail)
                    continue
                await self._handle(frame)
        finally:
            self.closing = True
            await self._stop_turn()
            if self.sender is not None:
                if self.queue is not None and not self.queue.full():
                    self.queue.put_nowait(_CLOSE)
                self.sender.cancel()
                await asyncio.gather(self.sender, return_exceptions=True)

    async def _refuse(self, frame: Any, detail: str) -> None:
        """A frame with NUL in a string: a message frame is an invalid message (answered with its id when
        that is usable), anything else an invalid frame."""
        if isinstance(frame, dict) and frame.get("type") == "message":
            raw_id = frame.get("id")
            message_id = raw_id[:100] if isinstance(raw_id, str) and "\x00" not in raw_id else ""
            await self.emit(ErrorEvent(code="invalid_message", detail=detail, message_id=message_id))
        else:
            await self.emit(ErrorEvent(code="invalid_frame", detail=detail))

    async def _handle(self, frame: Any) -> None:
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "message":
            message_id = str(frame.get("id") or "")[:100]
            if self.turn is not None and not self.turn.done():
                await self.emit(
                    ErrorEvent(
                        code="busy", detail="Wait for the current reply or cancel it first.", message_id=message_id
                    )
                )
                return
            mode = frame.get("mode")
            if mode is not None and mode not in MODES:
                await self.emit(
                    ErrorEvent(
                        code="invalid_message",
                        detail="Unknown mode; expected 'socratic', 'hint' or 'explain'.",
                        message_id=message_id,
                    )
                )
                return
            # The mode is per message (optional; the conversation's own mode otherwise).
            if self.runner is None:
                self.runner = turn_runner(self.components, self.chat, self.principal)
            runner = self.runner if mode is None else self.runner.for_chat(with_mode(self.runner.chat, mode))
            self.turn_id = message_id
            self.turn = asyncio.create_task(runner.run(message_id, frame.get("text"), self.emit))
            # Let the turn start before the next frame is read: a task cancelled before its first step
            # never runs its cancel handling, and a "cancel" frame may already be waiting.
            await asyncio.sleep(0)
        elif kind == "cancel":
            if self.turn is not None and not self.turn.done() and frame.get("id") in (None, self.turn_id):
                await self._stop_turn()
        elif kind == "auth":
            return  # already authenticated (header); a redundant auth frame is harmless
        else:
            await self.emit(
                ErrorEvent(code="invalid_frame", detail="Unknown frame type; expected 'message' or 'cancel'.")
            )

    async def _stop_turn(self) -> None:
        if self.turn is not None and not self.turn.done():
            self.turn.cancel()
            await asyncio.gather(self.turn, return_exceptions=True)


async def serve_tutor_socket(socket: WebSocket[Any, Any, Any], components: Components, session_id: UUID) -> None:
    principal = await accept_authenticated(socket, components)  # origin (4403) and token (4401) checks
    if principal is None:
        return
    try:
        tutor = provide_tutor_service(provide_tenant_db(components, principal), components, principal, request_id="")
        chat = await tutor.for_chat(session_id)
    except NotFound:
        await socket.close(code=CLOSE_NOT_FOUND, reason="unknown session")
        return
    except Forbidden:
        await socket.close(code=CLOSE_FORBIDDEN, reason="not your session")
        return
    except Exception as exc:
        if not is_dependency_unavailable(exc):  # out of database connections, Redis down: come back later
            raise
        await socket.close(code=CLOSE_TRY_AGAIN, reason="busy, try again shortly")
        return
    await TutorConnection(socket, components, chat, principal).serve()
    with contextlib.suppress(Exception):
        await socket.close(code=CLOSE_NORMAL)
