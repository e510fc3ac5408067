"""LTI resource link and deep-linking launches end to end (issue 14 §2, §3): login -> platform auth ->
launch -> one-time code exchange, with just-in-time provisioning confined to the registration's org."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from app.config import Settings
from app.domain.lti.schemas import DeepLinkRequest
from app.lib.lti import claims as c
from tests.integration.lti.launch_helpers import (
    an_item,
    lti_user_rows,
    other_org_slug,
    registered,
    roles_of,
)
from tests.support.databases import owner_sql
from tests.support.lti.platform import ADMIN, INSTRUCTOR, LEARNER, launch_code, page_data
from tests.support.lti.server import PlatformServer, running_platform_server

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
def lti_server() -> Iterator[PlatformServer]:
    with running_platform_server() as server:
        yield server


def new_sub() -> str:
    return f"lms-user-{uuid.uuid4().hex[:8]}"


async def test_resource_link_launch_provisions_and_enrols_the_learner(
    client: Client, settings: Settings, lti_server: PlatformServer
) -> None:
    platform = await registered(settings, lti_server, name="Canvas Test")
    item_id, course_id = await an_item(settings, "demo")
    sub = new_sub()
    session = await platform.launch(
        client,
        sub=sub,
        roles=[LEARNER],
        custom={c.CUSTOM_ITEM_ID: str(item_id)},
        ags={"lineitem": f"{platform.issuer}/lineitems/1", "lineitems": f"{platform.issuer}/lineitems", "scope": []},
        nrps={"context_memberships_url": f"{platform.issuer}/memberships", "service_versions": ["2.0"]},
        person={"given_name": "Grace", "family_name": "Hopper"},
    )
    assert session["org"] == "demo"
    assert session["token_type"] == "bearer"
    assert session["refresh_token"]
    assert session["user"]["role"] == "learner"
    assert session["user"]["name"] == "Grace Hopper"
    assert session["platform"] == {"id": str(platform.id), "name": "Canvas Test"}
    assert session["target"] == {
        "kind": "item",
        "course_id": str(course_id),
        "item_id": str(item_id),
        "deep_link_id": None,
    }
    assert session["context"] == {"title": "Intro to Python", "label": "PY101"}
    rows = await lti_user_rows(settings, platform, sub)
    assert len(rows) == 1
    user_id = uuid.UUID(str(rows[0][0]))
    assert str(session["user"]["id"]) == str(user_id)
    assert await roles_of(settings, user_id) == [("demo", "learner")]
    enrolments = await owner_sql(
        settings, "select status from enrollments where user_id = :u and course_id = :c", {"u": user_id, "c": course_id}
    )
    assert [r[0] for r in enrolments] == ["active"]
    link = await owner_sql(
        settings,
        "select item_id, course_id, lineitem_url, score_maximum from lti_resource_links where platform_id = :p",
        {"p": platform.id},
    )
    assert [(r[0], r[1], r[2], r[3]) for r in link] == [(item_id, course_id, f"{platform.issuer}/lineitems/1", 100.0)]
    context = await owner_sql(
        settings,
        "select course_id, nrps_url, ags_lineitems_url from lti_contexts where platform_id = :p",
        {"p": platform.id},
    )
    assert [(r[0], r[1], r[2]) for r in context] == [
        (course_id, f"{platform.issuer}/memberships", f"{platform.issuer}/lineitems")
    ]
    # The session is a real one: the API accepts its access token.
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.status_code == 200, me.text
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    audit = await owner_sql(
        settings, "select count(*) from audit_log where actor_id = :u and action = 'lti.launch'", {"u": user_id}
    )
    assert audit[0][0] == 1


async def test_roles_map_and_follow_the_latest_launch(
    client: Client, settings: Settings, lti_server: PlatformServer
) -> None:
    platform = await registered(settings, lti_server)
    sub = new_sub()
    assert (await platform.launch(client, sub=sub, roles=[INSTRUCTOR]))["user"]["role"] == "instructor"
    assert (await platform.launch(client, sub=new_sub(), roles=[ADMIN]))["user"]["role"] == "admin"
    assert (await platform.launch(client, sub=new_sub(), roles=[]))["user"]["role"] == "learner"
    # Same LMS user, now a learner: one Lyceum user, its role replaced.
    again = await platform.launch(client, sub=sub, roles=[LEARNER])
    assert again["user"]["role"] == "learner"
    rows = await lti_user_rows(settings, platform, sub)
    assert len(rows) == 1
    assert await roles_of(settings, uuid.UUID(str(rows[0][0]))) == [("demo", "learner")]


async def test_launch_without_target_opens_the_context_course_or_home(
    client: Client, settings: Settings, lti_server: PlatformServer
) -> None:
    platform = await registered(settings, lti_server)
    home = await platform.launch(client, sub=new_sub(), context={"id": "ctx-empty", "title": "Empty"})
    assert home["target"]["kind"] == "home"
    _, course_id = await an_item(settings, "demo")
    first = await platform.launch(
        client,
        sub=new_sub(),
        custom={c.CUSTOM_COURSE_ID: str(course_id)},
        resource_link={"id": "course-link"},
        context={"id": "ctx-2"},
    )
    assert first["target"] == {"kind": "course", "course_id": str(course_id), "item_id": None, "deep_link_id": None}
    # Another link of the same LMS course, with no custom parameters: the context's linked course.
    other = await platform.launch(client, sub=new_sub(), resource_link={"id": "plain-link"}, context={"id": "ctx-2"})
    assert other["target"]["kind"] == "course"
    assert other["target"]["course_id"] == str(course_id)
    # The first link again without custom parameters: its stored target.
    stored = await platform.launch(client, sub=new_sub(), resource_link={"id": "course-link"}, context={"id": "ctx-2"})
    assert stored["target"]["course_id"] == str(course_id)


async def test_deep_linking_launch_for_an_instructor_stores_the_request(
    client: Client, settings: Settings, lti_server: PlatformServer, redis: Redis
) -> None:
    platform = await registered(settings, lti_server)
    session = await platform.launch(client, sub=new_sub(), roles=[INSTRUCTOR], message_type=c.DEEP_LINKING_REQUEST)
    target = session["target"]
    assert target["kind"] == "deep_link"
    assert target["deep_link_id"]
    raw = await redis.get(f"{settings.redis_key_prefix}lti:dl:{target['deep_link_id']}")
    assert raw is not None
    request = msgspec.json.decode(raw, type=DeepLinkRequest)
    assert request.return_url == f"{platform.issuer}/deep-link-return"
    assert request.accept_types == ["ltiResourceLink"]
    assert request.accept_multiple is True
    assert request.data == "opaque-dl-data"
    assert str(request.user_id) == session["user"]["id"]
    assert request.platform_id == platform.id
    assert request.deployment_id == platform.deployment_id


async def test_deep_linking_launch_refuses_a_learner(
    client: Client, settings: Settings, lti_server: PlatformServer
) -> None:
    platform = await registered(settings, lti_server)
    sub = new_sub()
    response = await platform.launch_response(client, sub=sub, roles=[LEARNER], message_type=c.DEEP_LINKING_REQUEST)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert page_data(response.text)["code"] == "deep_linking_forbidden"
    assert await lti_user_rows(settings, platform, sub) == []


async def test_launch_code_is_single_use(client: Client, settings: Settings, lti_server: PlatformServer) -> None:
    platform = await registered(settings, lti_server)
    response = await platform.launch_response(client, sub=new_sub())
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    code = launch_code(response.text)
    first = await client.post("/v1/lti/session", json={"code": code})
    assert first.status_code == 200
    second = await client.post("/v1/lti/session", json={"code": code})
    assert second.status_code == 400
    assert second.headers["content-type"].startswith("application/problem+json")
    unknown = await client.post("/v1/lti/session", json={"code": "no-such-code"})
    assert unknown.status_code == 400
    for bad in ({}, {"code": ""}, {"code": "a\u0000b"}, {"code": "x" * 500}, {"code": 1}):
        refused = await client.post("/v1/lti/session", json=bad)
        assert 400 <= refused.status_code < 500, (bad, refused.text)


async def test_concurrent_first_launches_provision_one_user(
    client: Client, settings: Settings, lti_server: PlatformServer
) -> None:
    platform = await registered(settings, lti_server)
    sub = new_sub()
    logins = [await platform.login(client) for _ in range(6)]
    responses = await asyncio.gather(
        *(platform.post_launch(client, platform.id_token(nonce=login.nonce, sub=sub), login.state) for login in logins)
    )
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses if r.status_code != 200]
    rows = await lti_user_rows(settings, platform, sub)
    assert len(rows) == 1
    user_id = uuid.UUID(str(rows[0][0]))
    sessions: list[dict[str, Any]] = []
    for response in responses:
        exchanged = await client.post("/v1/lti/session", json={"code": launch_code(response.text)})
        assert exchanged.status_code == 200
        sessions.append(exchanged.json())
    assert {s["user"]["id"] for s in sessions} == {str(user_id)}
    assert await roles_of(settings, user_id) == [("demo", "learner")]
    members = await owner_sql(
        settings,
        "select count(*) from lti_context_members m join lti_users u on u.id = m.lti_user_pk where u.user_id = :u",
        {"u": user_id},
    )
    assert members[0][0] == 1


async def test_a_registration_provisions_only_into_its_own_org(
    client: Client, settings: Settings, lti_server: PlatformServer
) -> None:
    other = await other_org_slug(settings)
    platform = await registered(settings, lti_server, slug=other)
    demo_item, _ = await an_item(settings, "demo")
    sub = new_sub()
    # The custom parameter names an item of another org: not visible to this registration's org, ignored.
    session = await platform.launch(client, sub=sub, custom={c.CUSTOM_ITEM_ID: str(demo_item)})
    assert session["org"] == other
    assert session["target"]["item_id"] is None
    rows = await lti_user_rows(settings, platform, sub)
    assert len(rows) == 1
    user_id = uuid.UUID(str(rows[0][0]))
    assert await roles_of(settings, user_id) == [(other, "learner")]
    in_demo = await owner_sql(
        settings,
        "select count(*) from lti_resource_links l join organizations o on o.id = l.org_id "
        "where l.platform_id = :p and o.slug = 'demo'",
        {"p": platform.id},
    )
    assert in_demo[0][0] == 0
    enrolled = await owner_sql(settings, "select count(*) from enrollments where user_id = :u", {"u": user_id})
    assert enrolled[0][0] == 0


async def test_exchange_refuses_a_user_deactivated_since_the_launch(
    client: Client, settings: Settings, lti_server: PlatformServer
) -> None:
    platform = await registered(settings, lti_server)
    sub = new_sub()
    response = await platform.launch_response(client, sub=sub)
    assert response.status_code == 200
    user_id = (await lti_user_rows(settings, platform, sub))[0][0]
    await owner_sql(settings, "update users set is_active = false where id = :u", {"u": user_id})
    refused = await client.post("/v1/lti/session", json={"code": launch_code(response.text)})
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
