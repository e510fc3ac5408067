"""Talking to the tutor over the wire (WebSocket and SSE) against a live server: sign in, open a session
on an item, collect events until the turn ends."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.support.stack import bearer_for


def login(url: str, email: str, org: str = "demo") -> dict[str, str]:
    return bearer_for(url, email, org)


def first_item(url: str, headers: dict[str, str], kind: str = "lesson") -> tuple[str, str]:
    course = httpx.get(f"{url}/v1/courses", headers=headers).json()["items"][0]
    detail = httpx.get(f"{url}/v1/courses/{course['id']}", headers=headers).json()
    item = next(i for m in detail["modules"] for i in m["items"] if i["kind"] == kind)
    return course["id"], item["id"]


def new_session(url: str, headers: dict[str, str], kind: str = "lesson", mode: str = "socratic") -> dict[str, Any]:
    course_id, item_id = first_item(url, headers, kind)
    response = httpx.post(
        f"{url}/v1/tutor/sessions", headers=headers, json={"course_id": course_id, "item_id": item_id, "mode": mode}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def ws_url(url: str, session: dict[str, Any]) -> str:
    return url.replace("http://", "ws://") + session["websocket_url"]


async def collect(ws: Any, until: tuple[str, ...] = ("done", "blocked", "error")) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 20))
        events.append(event)
        if event["type"] in until:
            return events


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events, name = [], ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line.split(":", 1)[1])))
    return events
