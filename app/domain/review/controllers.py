"""The live review feed's routes: WebSocket and SSE on ``/v1/review/feed`` (see feed.py)."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from litestar import Controller, Request, Response, WebSocket, get, websocket
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.response import ServerSentEvent

from app.domain.components import Components
from app.domain.review.feed import FeedPage, FeedReplay, feed_cursor, serve_feed_socket, sse_stream
from app.lib.auth import PUBLIC, is_staff
from app.lib.security.principal import Principal
from app.lib.sockets import SSE_HEADERS

Since = Annotated[
    str | None,
    Parameter(query="since", max_length=41, description="Resume after this event id (SSE: Last-Event-ID wins)"),
]
Limit = Annotated[
    int | None,
    Parameter(query="limit", ge=0, description="Replay at most this many recent events (default: all kept)"),
]

FEED_RESPONSE = "Request fulfilled, document follows"  # Litestar's default: the document only gains the type
FEED_DESCRIPTION = (
    "The replay as JSON, each event typed by its `type` (docs/events.md). With "
    "`Accept: text/event-stream`, the same events as server-sent events (`id:` the event id, "
    "`event:` its type, `data:` the event JSON), then `event: ready` and live events."
)


class ReviewFeedController(Controller):
    """Instructors and admins of the caller's org. The WebSocket authenticates inside its own protocol
    (header or first frame, close codes 44xx), so it sits outside the HTTP auth middleware."""

    path = "/review"
    tags = ["Review"]

    @websocket("/feed", opt={PUBLIC: True})
    async def feed_socket(self, socket: WebSocket[Any, Any, Any], components: Components) -> None:
        await serve_feed_socket(socket, components)

    @get(
        "/feed",
        guards=[is_staff],
        summary="The org's review events: live with Accept: text/event-stream (replay first), else the replay",
        description=FEED_DESCRIPTION,
        responses={200: ResponseSpec(FeedReplay, description=FEED_RESPONSE, generate_examples=False)},
    )
    async def feed(
        self,
        request: Request[Any, Any, Any],
        components: Components,
        principal: Principal,
        since: Since = None,
        limit: Limit = None,
    ) -> Response[Any]:
        since, replay = feed_cursor(
            request.headers.get("last-event-id") or since, limit, components.settings.feed_replay_size
        )
        if "text/event-stream" not in request.headers.get("accept", ""):
            events = await components.events.replay(principal.org_id, since, replay)
            return Response(FeedPage(items=events, last_id=events[-1].id if events else since))
        # Subscribe before answering, so an unavailable feed is a 503 problem, not a broken stream.
        stack = contextlib.AsyncExitStack()
        sub = await stack.enter_async_context(components.events.subscribe(principal.org_id, since=since, replay=replay))
        return ServerSentEvent(sse_stream(sub, stack, components.settings.feed_ping_seconds), headers=SSE_HEADERS)
