"""One conversation per learner, course and item: resume on load, the mode per message, "New conversation"."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support.tutor_api import collect, first_item, login, new_session, ws_url

pytestmark = pytest.mark.slow


def open_conversation(url: str, headers: dict[str, str], mode: str = "socratic", **extra: Any) -> httpx.Response:
    course_id, item_id = first_item(url, headers)
    return httpx.post(
        f"{url}/v1/tutor/sessions",
        headers=headers,
        json={"course_id": course_id, "item_id": item_id, "mode": mode, **extra},
    )


def transcript(url: str, headers: dict[str, str], session_id: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/v1/tutor/sessions/{session_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_resume_returns_the_open_conversation_and_a_new_one_closes_it(live_url: str) -> None:
    learner = login(live_url, "learner@demo.test")
    first = new_session(live_url, learner)
    assert first["reused"] is False
    resumed = open_conversation(live_url, learner, mode="hint", resume=True)
    assert resumed.status_code == 201, resumed.text
    assert resumed.json()["id"] == first["id"]
    assert resumed.json()["reused"] is True
    assert resumed.json()["mode"] == "hint"  # the default for messages sent without a mode

    fresh = new_session(live_url, learner)  # "New conversation"
    assert fresh["id"] != first["id"]
    assert transcript(live_url, learner, first["id"])["session"]["status"] == "closed"
    again = open_conversation(live_url, learner, resume=True).json()
    assert again["id"] == fresh["id"]


async def test_tabs_resuming_together_meet_in_one_conversation(live_url: str) -> None:
    learner = login(live_url, "learner@demo.test")
    new_session(live_url, learner)
    course_id, item_id = first_item(live_url, learner)
    body = {"course_id": course_id, "item_id": item_id, "resume": True}
    async with httpx.AsyncClient(base_url=live_url, headers=learner) as client:
        # Close the open one and race three resumes with no conversation open.
        started = await client.post("/v1/tutor/sessions", json={"course_id": course_id, "item_id": item_id})
        assert started.status_code == 201
        answers = await asyncio.gather(*(client.post("/v1/tutor/sessions", json=body) for _ in range(3)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1


async def test_the_mode_is_per_message_and_kept_in_the_transcript(live_url: str) -> None:
    learner = login(live_url, "learner@demo.test")
    session = new_session(live_url, learner, mode="socratic")
    async with connect(ws_url(live_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "p1", "text": "What is this lesson about?"}))
        assert (await collect(ws))[-1]["type"] == "done"
        await ws.send(json.dumps({"type": "message", "id": "p2", "text": "Give me a hint", "mode": "hint"}))
        assert (await collect(ws))[-1]["type"] == "done"
        await ws.send(json.dumps({"type": "message", "id": "p3", "text": "Explain it", "mode": "shout"}))
        refused = (await collect(ws))[-1]
        assert refused["type"] == "error"
        assert refused["code"] == "invalid_message"
        assert refused["message_id"] == "p3"
    # Over SSE's JSON answer too.
    sent = httpx.post(
        f"{live_url}{session['messages_url']}",
        headers=learner,
        json={"text": "Now explain it properly", "id": "p4", "mode": "explain"},
    )
    assert sent.status_code == 200, sent.text
    bad = httpx.post(
        f"{live_url}{session['messages_url']}", headers=learner, json={"text": "Hi", "id": "p5", "mode": "shout"}
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    turns = transcript(live_url, learner, session["id"])["turns"]
    assert [(t["client_message_id"], t["mode"]) for t in turns] == [
        ("p1", "socratic"),
        ("p2", "hint"),
        ("p4", "explain"),
    ]
