"""Roster sync (NRPS 2.0): an instructor asks for it, a job reads every page of the platform's memberships,
provisions members, updates roles and withdraws (never deletes) the enrolments of members who left."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from saq import Worker
from sqlalchemy import select

from app.db.models import Enrollment, LtiContext, LtiContextMember, LtiUser, Membership
from app.domain.lti import provisioning
from tests.support.grading import Client
from tests.support.lti.services import INSTRUCTOR, LEARNER, MEMBERSHIP_TYPE, SCOPE_NRPS, PlatformServices
from tests.support.lti.services_fixtures import LtiWorld, build_world
from tests.support.stack import auth_headers


async def _provision(world: LtiWorld, sub: str, roles: tuple[str, ...]) -> provisioning.ProvisionedUser:
    """Someone a launch provisioned earlier (an active member of the context)."""
    async with world.db.transaction(world.org_id) as session:
        context = await session.get(LtiContext, world.context_pk)
        assert context is not None
        from app.db.models import LtiPlatform

        platform = await session.get(LtiPlatform, world.platform_id)
        assert platform is not None
        person = provisioning.LtiPerson(sub=sub, name=sub, roles=roles)
        provisioned = await provisioning.ensure_user(session, platform, person)
        await provisioning.ensure_member(session, context, provisioned, roles, active=True)
        return provisioned


async def _synced(client: Client, headers: dict[str, str], context_pk: uuid.UUID, deadline_s: float = 90) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        page = (await client.get("/v1/lti/contexts", headers=headers, params={"limit": 100})).json()
        mine = next((c for c in page["items"] if c["id"] == str(context_pk)), None)
        if mine is not None and mine["roster_synced_at"] is not None:
            return mine
        await asyncio.sleep(0.1)
    raise AssertionError(f"context {context_pk} was never synced")


async def test_roster_sync_follows_pages_provisions_and_withdraws(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices
) -> None:
    world = await build_world(lsclient, platform)
    try:
        leaver = await _provision(world, "lms-leaver", (LEARNER,))
        promoted = await _provision(world, "lms-promoted", (LEARNER,))
        platform.set_members(
            world.context,
            [
                {"user_id": world.sub, "roles": [LEARNER], "status": "Active", "name": "Lena LMS"},
                {"user_id": "lms-new-learner", "roles": [LEARNER], "given_name": "Nia", "family_name": "New"},
                {"user_id": "lms-new-teacher", "roles": [INSTRUCTOR], "name": "Tom Teacher"},
                {"user_id": "lms-promoted", "roles": [INSTRUCTOR], "name": "Pat Promoted"},
                {"user_id": "lms-never-came", "roles": [LEARNER], "status": "Inactive"},
            ],
            page_size=2,
        )
        staff = await auth_headers(lsclient, "instructor@demo.test", "demo")
        before = (await lsclient.get("/v1/lti/contexts", headers=staff, params={"limit": 100})).json()
        listed = next(c for c in before["items"] if c["id"] == str(world.context_pk))
        assert listed["roster_service"] is True
        assert listed["grade_service"] is True
        assert listed["course"]["slug"] == "backend-foundations"
        assert listed["roster_synced_at"] is None

        queued = await lsclient.post(f"/v1/lti/contexts/{world.context_pk}/roster-sync", headers=staff)
        assert queued.status_code == 202, queued.text
        assert queued.json() == {"context_id": str(world.context_pk), "queued": True}
        synced = await _synced(lsclient, staff, world.context_pk)
        assert synced["active_members"] == 4  # Lena, Nia, Tom, Pat
        assert synced["inactive_members"] == 1  # the leaver: kept, inactive

        pages = platform.server.requests(f"/nrps/{world.context}/memberships")
        assert all(p.headers["accept"] == MEMBERSHIP_TYPE for p in pages)
        # 5 members, 2 a page, followed through Link rel="next". (SAQ's sweep can abort a job in its first
        # second and run it again: the completed run is the last three requests.)
        assert [p.query.get("page", ["1"])[0] for p in pages][-3:] == ["1", "2", "3"]
        assert platform.token_requests == 1  # a retried run reuses the cached token
        token_form = platform.server.requests("/token")[0].form()
        assert token_form["scope"] == SCOPE_NRPS

        async with world.db.transaction(world.org_id) as session:
            subs = dict(
                (
                    await session.execute(
                        select(LtiUser.sub, LtiUser.user_id).where(LtiUser.platform_id == world.platform_id)
                    )
                ).all()
            )
            assert {"lms-new-learner", "lms-new-teacher"} <= set(subs)
            assert "lms-never-came" not in subs  # not provisioned only to be recorded as gone
            members = {
                m.lti_user_pk: m
                for m in await session.scalars(
                    select(LtiContextMember).where(LtiContextMember.context_pk == world.context_pk)
                )
            }
            assert members[leaver.lti_user_pk].active is False
            assert members[promoted.lti_user_pk].roles == [INSTRUCTOR]
            role = await session.scalar(
                select(Membership.role).where(Membership.user_id == promoted.user_id, Membership.org_id == world.org_id)
            )
            assert role == "instructor"
            context = await session.get(LtiContext, world.context_pk)
            assert context is not None
            withdrawn = await session.scalar(
                select(Enrollment).where(
                    Enrollment.user_id == leaver.user_id, Enrollment.course_id == context.course_id
                )
            )
            assert withdrawn is not None  # never deleted
            assert withdrawn.status == "withdrawn"
            new_learner = await session.scalar(
                select(Enrollment).where(
                    Enrollment.user_id == subs["lms-new-learner"], Enrollment.course_id == context.course_id
                )
            )
            assert new_learner is not None
            assert new_learner.status == "active"
            stays = await session.scalar(
                select(Enrollment.status).where(
                    Enrollment.user_id == world.user_id, Enrollment.course_id == context.course_id
                )
            )
            assert stays == "active"
    finally:
        await world.aclose()


async def test_roster_sync_requests_are_checked(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices
) -> None:
    world = await build_world(lsclient, platform)
    try:
        staff = await auth_headers(lsclient, "instructor@demo.test", "demo")
        unknown = await lsclient.post(f"/v1/lti/contexts/{uuid.uuid4()}/roster-sync", headers=staff)
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        async with world.db.transaction(world.org_id) as session:
            context = await session.get(LtiContext, world.context_pk)
            assert context is not None
            context.nrps_url = None
        no_service = await lsclient.post(f"/v1/lti/contexts/{world.context_pk}/roster-sync", headers=staff)
        assert no_service.status_code == 409
        assert no_service.json()["code"] == "no_roster_service"
        learner = await lsclient.post(f"/v1/lti/contexts/{world.context_pk}/roster-sync", headers=world.headers)
        assert learner.status_code == 403
    finally:
        await world.aclose()


async def test_a_truncated_roster_deactivates_nobody(
    lsclient: Client, lsworker: Worker[Any], platform: PlatformServices, monkeypatch: Any
) -> None:
    """Past the page cap the sync is incomplete: listed members are provisioned, absent ones left alone."""
    import app.domain.lti.nrps as roster

    monkeypatch.setattr(roster, "MAX_PAGES", 1)  # the worker runs in this process
    world = await build_world(lsclient, platform)
    try:
        platform.set_members(
            world.context,
            [
                {"user_id": "lms-first-page", "roles": [LEARNER]},
                {"user_id": "lms-first-page-2", "roles": [LEARNER]},
                {"user_id": world.sub, "roles": [LEARNER]},  # on page 2: never read
            ],
            page_size=2,
        )
        staff = await auth_headers(lsclient, "instructor@demo.test", "demo")
        queued = await lsclient.post(f"/v1/lti/contexts/{world.context_pk}/roster-sync", headers=staff)
        assert queued.status_code == 202, queued.text
        synced = await _synced(lsclient, staff, world.context_pk)
        assert synced["active_members"] == 3  # the learner was not seen, and is still active
        assert synced["inactive_members"] == 0
        pages = platform.server.requests(f"/nrps/{world.context}/memberships")
        assert all(p.query.get("page", ["1"])[0] == "1" for p in pages)  # page 2 is never read
    finally:
        await world.aclose()
