"""WebSocket frames: size limits before and after authentication, and bad frames without internals
(issue 9, part 3), on a real uvicorn configured as `lyceum up` runs it.

Was: unauthenticated frames up to 16 MiB were buffered (10 sockets x 15 MiB took the API from 195 to
470 MiB), and a first frame that was not JSON closed 4500 with the decoder's message.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.lib.sockets import AUTH_FRAME_MAX_BYTES, server_max_frame_bytes, tutor_frame_max_bytes
from tests.support.hostile import deep_json, internals_in
from tests.support.tutor_api import collect, login, new_session, ws_url

pytestmark = pytest.mark.slow
LIMIT = tutor_frame_max_bytes(Settings())  # the live server runs with the default message limit


def tutor_url(live_url: str) -> str:
    return live_url.replace("http://", "ws://") + f"/v1/tutor/sessions/{uuid.uuid4()}/ws"


def feed_url(live_url: str) -> str:
    return live_url.replace("http://", "ws://") + "/v1/review/feed?limit=0"


async def closed_with(ws: ClientConnection, *frames: str | bytes) -> tuple[int, str]:
    """Send ``frames`` and return the close code and reason the server answers with."""
    with pytest.raises(ConnectionClosed) as closed:
        await _send_until_closed(ws, frames)
    received = closed.value.rcvd
    assert received is not None, "the server did not send a close frame"
    assert not internals_in(received.reason), received.reason
    return received.code, received.reason


@pytest.mark.parametrize("url", [tutor_url, feed_url])
async def test_first_frame_above_the_auth_limit_closes_1009(live_url: str, url: Any) -> None:
    async with connect(url(live_url), max_size=None) as ws:
        code, reason = await closed_with(ws, json.dumps({"type": "auth", "token": "x" * AUTH_FRAME_MAX_BYTES}))
    assert (code, reason) == (1009, "message too big")


async def test_frames_above_the_server_limit_are_refused_before_buffering(live_url: str) -> None:
    """uvicorn (--ws-max-size) refuses a frame longer than any socket accepts from its header alone."""
    assert server_max_frame_bytes(Settings()) == 65536  # the figure in the Dockerfile and docker-compose.yml
    async with connect(tutor_url(live_url), max_size=None) as ws:
        code, _ = await closed_with(ws, "x" * (server_max_frame_bytes(Settings()) + 1))
    assert code == 1009


@pytest.mark.parametrize(
    "frame",
    [b"\x00\x01 binary", "not json", deep_json(), '{"type": "auth", "token": 1' + "]" * 10],
    ids=["binary", "text", "deep", "broken"],
)
async def test_a_first_frame_that_is_not_json_closes_4400_without_internals(live_url: str, frame: Any) -> None:
    async with connect(tutor_url(live_url)) as ws:
        code, reason = await closed_with(ws, frame)
    assert code == 4400
    assert "malformed frame" in reason


async def test_a_first_frame_that_is_json_but_no_auth_closes_4401(live_url: str) -> None:
    async with connect(tutor_url(live_url)) as ws:
        assert await closed_with(ws, json.dumps({"type": "message", "text": "hi"})) == (4401, "not authenticated")


async def test_after_auth_the_tutor_accepts_up_to_its_limit_then_closes_1009(live_url: str) -> None:
    learner = login(live_url, "learner@demo.test")
    session = new_session(live_url, learner)
    token = learner["Authorization"].split()[1]
    async with connect(ws_url(live_url, session), max_size=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        # A frame above the pre-auth limit but within the message limit is a message, refused as too long.
        near = json.dumps({"type": "message", "id": "long", "text": "x" * (LIMIT - 100)})
        assert AUTH_FRAME_MAX_BYTES < len(near) <= LIMIT
        event = json.loads(await _send_and_receive(ws, near))
        assert (event["type"], event["code"], event["message_id"]) == ("error", "invalid_message", "long")
        code, reason = await closed_with(ws, "x" * (LIMIT + 1))
    assert (code, reason) == (1009, "message too big")


async def test_after_auth_bad_frames_get_error_events_and_the_socket_goes_on(live_url: str) -> None:
    learner = login(live_url, "learner@demo.test")
    session = new_session(live_url, learner)
    async with connect(ws_url(live_url, session), additional_headers=learner) as ws:
        deep = json.loads(await _send_and_receive(ws, deep_json()))
        assert (deep["code"], deep["detail"]) == ("invalid_frame", "JSON is nested deeper than 32 levels")
        nul_id = json.loads(await _send_and_receive(ws, json.dumps({"type": "message", "id": "a\x00", "text": "hi"})))
        assert (nul_id["code"], nul_id["message_id"]) == ("invalid_message", "")
        assert "#/id" in nul_id["detail"]
        nul_type = json.loads(await _send_and_receive(ws, json.dumps({"type": "cancel\x00"})))
        assert nul_type["code"] == "invalid_frame"
        binary = json.loads(await _send_and_receive(ws, b"\xff\xfe"))
        assert binary["code"] == "invalid_frame"
        for event in (deep, nul_id, nul_type, binary):
            assert not internals_in(json.dumps(event)), event
        # Nothing was lost: the same socket still answers a good message.
        await ws.send(json.dumps({"type": "message", "id": "good", "text": "What is this lesson about?"}))
        assert (await collect(ws))[-1]["type"] == "done"


async def test_the_feed_closes_1009_on_a_big_frame_after_auth(live_url: str) -> None:
    instructor = login(live_url, "instructor@demo.test")
    async with connect(feed_url(live_url), additional_headers=instructor) as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert ready["type"] == "ready"
        await ws.send("small frames are ignored")
        code, reason = await closed_with(ws, "x" * (AUTH_FRAME_MAX_BYTES + 1))
    assert (code, reason) == (1009, "message too big")


async def _send_and_receive(ws: ClientConnection, frame: str | bytes) -> str | bytes:
    await ws.send(frame)
    return await asyncio.wait_for(ws.recv(), 20)


async def _send_until_closed(ws: ClientConnection, frames: tuple[str | bytes, ...]) -> None:
    for frame in frames:
        await ws.send(frame)
    while True:  # anything the server sends before closing (e.g. error events) is skipped
        await asyncio.wait_for(ws.recv(), 20)
