"""The review feed's SSE bytes, now framed by Litestar's ServerSentEvent: exactly the hand-built frames of
before (id/event/data lines, CRLF, a ``: ping`` comment with no data line, ``event: ready`` after the replay),
and every payload's JSON identical to the dict it replaced."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

import msgspec
from litestar.response import ServerSentEvent

from app.domain.review.feed import sse_stream
from app.lib.event_payloads import (
    BudgetAlert,
    GuardrailOutcome,
    ReviewClaimed,
    TutorBlocked,
    TutorSessionStarted,
)
from app.lib.events import Subscription, _delivery


async def test_sse_frames_are_byte_for_byte_the_documented_ones() -> None:
    org = uuid.uuid4()
    claimed = ReviewClaimed(submission_id=uuid.uuid4(), reviewer_id=uuid.uuid4())
    body = msgspec.json.encode(
        {"type": claimed.TYPE, "org_id": org, "at": datetime(2026, 11, 23, 5, 40, tzinfo=UTC), "data": claimed}
    )
    delivery = _delivery("1763876400123-0", body)
    sub = Subscription(org, queue_size=4)
    sub.prime([delivery], (0, 0))
    stack = contextlib.AsyncExitStack()
    closed: list[bool] = []
    stack.callback(lambda: closed.append(True))
    stream = sse_stream(sub, stack, ping_seconds=0.01)
    frames = ServerSentEvent(stream).iterator
    got = []
    async for chunk in frames:  # the replayed event, ready, then a ping (nothing else is queued)
        got.append(chunk)
        if len(got) == 3:
            break
    await stream.aclose()  # type: ignore[attr-defined]  # the client left: the subscription is released
    assert closed == [True]
    wire = b'{"id":"1763876400123-0",' + body[1:]
    assert got == [
        b"id: 1763876400123-0\r\nevent: review.claimed\r\ndata: " + wire + b"\r\n\r\n",
        b'event: ready\r\ndata: {"type":"ready","replayed":1}\r\n\r\n',
        b": ping\r\n\r\n",
    ]
    assert msgspec.json.decode(wire)["data"] == {
        "submission_id": str(claimed.submission_id),
        "reviewer_id": str(claimed.reviewer_id),
    }


def test_payload_json_is_the_dict_it_replaced() -> None:
    ids = [uuid.uuid4() for _ in range(4)]
    blocked = TutorBlocked(
        session_id=ids[0],
        interaction_id=ids[1],
        user_id=ids[2],
        course_id=ids[3],
        item_id=None,
        policy="injection",
        stage="input",
        reason="override phrase",
        guardrails=[GuardrailOutcome(name="injection", action="block")],
    )
    assert msgspec.json.encode(blocked) == msgspec.json.encode(
        {
            "session_id": str(ids[0]),
            "interaction_id": str(ids[1]),
            "user_id": str(ids[2]),
            "course_id": str(ids[3]),
            "item_id": None,
            "policy": "injection",
            "stage": "input",
            "reason": "override phrase",
            "guardrails": [{"name": "injection", "action": "block"}],
        }
    )
    started = TutorSessionStarted(session_id=ids[0], user_id=ids[1], course_id=ids[2], item_id=ids[3], mode="hint")
    assert list(msgspec.to_builtins(started)) == ["session_id", "user_id", "course_id", "item_id", "mode"]
    alert = BudgetAlert(
        scope="session",
        threshold=0.8,
        used_tokens=850,
        limit_tokens=1000,
        period_ends_at=None,
        course_id=ids[0],
        user_id=ids[1],
        session_id=ids[2],
    )
    assert list(msgspec.to_builtins(alert)) == [
        "scope",
        "threshold",
        "used_tokens",
        "limit_tokens",
        "period_ends_at",
        "course_id",
        "user_id",
        "session_id",
    ]
