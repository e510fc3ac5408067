from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, WebSocket, get, post, websocket
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.domain.components import Components
from app.domain.tutor.deps import turn_runner, tutor_dependencies
from app.domain.tutor.event_stream import collect_events, sse_events
from app.domain.tutor.schemas import (
    FeedbackIn,
    FeedbackOut,
    MessageIn,
    SessionCreate,
    SessionOut,
    Transcript,
)
from app.domain.tutor.services import TutorService, with_mode
from app.domain.tutor.socket import serve_tutor_socket
from app.domain.tutor.turns import TurnRunner, validate_message
from app.lib.auth import PUBLIC, is_member
from app.lib.errors import ValidationFailed
from app.lib.idempotency import IDEMPOTENT
from app.lib.sockets import SSE_HEADERS

_encoder = msgspec.json.Encoder()


class TutorController(Controller):
    dependencies = tutor_dependencies
    path = "/tutor"
    tags = ["Tutor"]
    guards = [is_member]

    @post(
        "/sessions",
        status_code=HTTP_201_CREATED,
        opt={IDEMPOTENT: True},
        summary="Start a tutoring conversation (closing the open one for the item), or resume the open one",
    )
    async def create_session(self, data: SessionCreate, tutor_service: TutorService) -> SessionOut:
        return await tutor_service.create(data)

    @get("/sessions/{session_id:uuid}", summary="A session's transcript (yours, or any in the org for staff)")
    async def get_session(self, session_id: UUID, tutor_service: TutorService) -> Transcript:
        return await tutor_service.transcript(session_id)

    @post(
        "/sessions/{session_id:uuid}/messages",
        status_code=HTTP_200_OK,
        summary="Send a message; with Accept: text/event-stream the reply streams as server-sent events",
    )
    async def send_message(
        self,
        session_id: UUID,
        data: MessageIn,
        request: Request[Any, Any, Any],
        tutor_service: TutorService,
        components: Components,
    ) -> Response[Any]:
        chat = await tutor_service.for_chat(session_id)
        problem = validate_message(data.text, components.settings.tutor_max_message_chars)
        if problem:
            raise ValidationFailed(problem, errors=[{"pointer": "#/text", "detail": problem}])
        runner = turn_runner(components, with_mode(chat, data.mode), tutor_service.principal)
        if "text/event-stream" not in request.headers.get("accept", ""):
            return Response(await _collect(runner, data), media_type="application/json")
        return ServerSentEvent(
            _stream(runner, data, components.settings.ws_send_queue_size),
            headers=SSE_HEADERS,
        )

    @post(
        "/interactions/{interaction_id:uuid}/feedback",
        status_code=HTTP_200_OK,
        summary="Rate a tutor reply 1-5 (rating again replaces your rating)",
    )
    async def feedback(self, interaction_id: UUID, data: FeedbackIn, tutor_service: TutorService) -> FeedbackOut:
        return await tutor_service.feedback(interaction_id, data)


class TutorSocketController(Controller):
    """The socket authenticates inside its own protocol (header or first frame, close codes 44xx),
    so it sits outside the HTTP auth middleware and role guards."""

    path = "/tutor"
    tags = ["Tutor"]

    @websocket("/sessions/{session_id:uuid}/ws", opt={PUBLIC: True})
    async def socket(self, socket: WebSocket[Any, Any, Any], session_id: UUID, components: Components) -> None:
        await serve_tutor_socket(socket, components, session_id)


async def _collect(runner: TurnRunner, data: MessageIn) -> dict[str, Any]:
    return await collect_events(lambda emit: runner.run(data.id or "", data.text, emit))


def _stream(runner: TurnRunner, data: MessageIn, queue_size: int) -> AsyncIterator[ServerSentEventMessage]:
    return sse_events(lambda emit: runner.run(data.id or "", data.text, emit), queue_size)
