"""The tutor's chat cache (app/domain/tutor/chat_cache.py): what a connection and a turn load is reused while
its Redis versions hold, and an admin's change or a resume in another mode reaches the next connection in
every process. Real Redis; the end-to-end tests run the live server with the offline provider."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from app.domain.tutor.chat_cache import ChatCache, cached
from tests.support.tutor_api import collect, first_item, login, new_session, ws_url

pytestmark = pytest.mark.slow


async def test_an_entry_serves_until_its_version_changes_in_any_process(redis: Redis, redis_prefix: str) -> None:
    prefix = f"{redis_prefix}cache-{uuid.uuid4().hex[:8]}:"
    one, two = ChatCache(redis, prefix), ChatCache(redis, prefix)  # two API processes on one Redis
    org, session = uuid.uuid4(), uuid.uuid4()
    loads: list[str] = []

    async def load(value: str) -> str:
        loads.append(value)
        return value

    async def read(cache: ChatCache, value: str) -> str:
        return await cached(cache, "thing", org, session, await cache.versions(org, session), lambda: load(value))

    assert await read(one, "first") == "first"
    assert await read(one, "second") == "first"  # served from the cache: no load
    assert loads == ["first"]
    await two.invalidate_org(org)  # e.g. an admin's budget change, handled by the other process
    assert await read(one, "third") == "third"
    assert await read(one, "fourth") == "third"
    await two.invalidate_session(session)  # a resume in another mode
    assert await read(one, "fifth") == "fifth"
    other_org = uuid.uuid4()  # entries are per org: another tenant never sees this one
    assert one.get("thing", other_org, session, await one.versions(other_org, session)) is None
    assert loads == ["first", "third", "fifth"]


async def test_no_redis_means_no_cache(redis_prefix: str) -> None:
    down = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=1)  # nothing listens there
    try:
        cache = ChatCache(down, redis_prefix)
        org = uuid.uuid4()
        versions = await cache.versions(org)
        assert versions is None
        cache.put("thing", org, "k", versions, "value")
        assert cache.get("thing", org, "k", versions) is None
    finally:
        await down.aclose()


async def test_max_age_zero_turns_the_cache_off(redis: Redis, redis_prefix: str) -> None:
    cache = ChatCache(redis, f"{redis_prefix}cache-{uuid.uuid4().hex[:8]}:", max_age=0.0)
    org = uuid.uuid4()
    assert await cache.versions(org) is None  # max_age 0: the cache is off


async def test_a_budget_change_reaches_a_connection_whose_material_is_cached(live_url: str) -> None:
    admin = login(live_url, "admin@demo.test")
    learner = login(live_url, "learner@demo.test")
    session = new_session(live_url, learner)
    async with connect(ws_url(live_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "c1", "text": "What is this lesson about?"}))
        assert (await collect(ws))[-1]["type"] == "done"  # the session and its item's material are cached now
    put = httpx.put(f"{live_url}/v1/admin/budgets", headers=admin, json={"session_tokens": 10})
    assert put.status_code == 200, put.text
    try:
        async with connect(ws_url(live_url, session), additional_headers=learner) as ws:
            await ws.send(json.dumps({"type": "message", "id": "c2", "text": "Tell me more"}))
            events = await collect(ws)
        assert events[-1]["type"] == "blocked", events[-1]
        assert events[-1]["policy"] == "budget"
    finally:
        assert httpx.put(f"{live_url}/v1/admin/budgets", headers=admin, json={}).status_code == 200
    async with connect(ws_url(live_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "c3", "text": "And now?"}))
        assert (await collect(ws))[-1]["type"] == "done"  # the limits are back: invalidated again


async def test_a_resume_in_another_mode_reaches_the_next_connection(live_url: str) -> None:
    learner = login(live_url, "learner@demo.test")
    session = new_session(live_url, learner, mode="socratic")
    async with connect(ws_url(live_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "r1", "text": "What is this lesson about?"}))
        assert (await collect(ws))[-1]["type"] == "done"
    course_id, item_id = first_item(live_url, learner)
    resumed = httpx.post(
        f"{live_url}/v1/tutor/sessions",
        headers=learner,
        json={"course_id": course_id, "item_id": item_id, "mode": "hint", "resume": True},
    )
    assert resumed.status_code == 201, resumed.text
    assert resumed.json()["id"] == session["id"]
    async with connect(ws_url(live_url, session), additional_headers=learner) as ws:
        await ws.send(json.dumps({"type": "message", "id": "r2", "text": "Can you help?"}))  # no mode: the default
        assert (await collect(ws))[-1]["type"] == "done"
    transcript = httpx.get(f"{live_url}/v1/tutor/sessions/{session['id']}", headers=learner).json()
    assert [turn["mode"] for turn in transcript["turns"]] == ["socratic", "hint"]
