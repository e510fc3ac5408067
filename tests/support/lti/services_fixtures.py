"""Fixtures for the LTI services tests (AGS, NRPS): an app and an in-process SAQ worker allowed to call the
loopback test platform, the platform's services, and LMS rows built directly with the provisioning
functions (the launch flow is tested on its own; these tests start from what a launch leaves behind)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from saq import Worker
from sqlalchemy import Select, select

from app.config import Settings
from app.db.engine import Database
from app.db.models import Course, Item, LtiPlatform
from app.domain.lti import provisioning
from app.domain.lti.toolkeys import published_jwks
from app.server.components import components_of
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.grading import GRADING_ENV, Client, app_client, in_process_worker
from tests.support.lti.server import PlatformServer
from tests.support.lti.services import LEARNER, SCOPE_LINEITEM, SCOPE_SCORE, PlatformServices
from tests.support.progress import open_assessments_of
from tests.support.stack import auth_headers, make_settings

AGS_SCOPES = [SCOPE_LINEITEM, SCOPE_SCORE, "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"]


@pytest.fixture(scope="session")
def lti_services_settings(
    database_url: str, redis_url: str, redis_prefix: str, tmp_data_dir: Path, fake_anthropic_server: FakeAnthropic
) -> Settings:
    return make_settings(
        database_url,
        redis_url,
        redis_prefix + "lti-services:",
        tmp_data_dir,
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake_anthropic_server.base_url,
        LYCEUM_GRADING_RETRIES="2",
        LYCEUM_LTI_ALLOW_PRIVATE="1",  # the test platform listens on 127.0.0.1
        LYCEUM_LTI_RETRIES="4",
        **{
            **GRADING_ENV,
            # The passback tests count the sweeps ("two sweeps: a failed post is not re-queued") at one per
            # heartbeat: keep them at 2 s here (their assertions allow SAQ's extra aborted attempt).
            "LYCEUM_GRADING_HEARTBEAT_SECONDS": "2",
        },
    )


@pytest.fixture(scope="session")
async def lsclient(lti_services_settings: Settings, seeded: Any) -> AsyncIterator[Client]:
    async for client in app_client(lti_services_settings):
        yield client


@pytest.fixture(scope="session")
async def lsworker(lti_services_settings: Settings, seeded: Any) -> AsyncIterator[Worker[Any]]:
    async for worker in in_process_worker(lti_services_settings):
        yield worker


@pytest.fixture
def platform_server() -> Iterator[PlatformServer]:
    server = PlatformServer().start()
    yield server
    server.stop()


@pytest.fixture
async def platform(platform_server: PlatformServer, lsclient: Client) -> PlatformServices:
    """A new platform server's services, for the app of the LTI services tests."""
    return await platform_services(platform_server, lsclient)


async def platform_services(server: PlatformServer, client: Client) -> PlatformServices:
    """The platform's services on ``server`` for the tool behind ``client``, under a client_id of their own,
    checking client assertions against the tool's published key set (read once here: the tests that use it
    do not rotate the tool key)."""
    # A pool of this test's event loop: the app's engine belongs to the test client's loop.
    settings = components_of(client.app).settings
    db = Database.from_settings(settings)
    try:
        async with db.transaction(None) as session:
            jwks = await published_jwks(session, settings)
    finally:
        await db.dispose()
    return PlatformServices(server, f"client-{uuid.uuid4().hex[:8]}", lambda: jwks)


@dataclass
class LtiWorld:
    """One LMS course linked to backend-foundations, one learner launched into one of its assessments."""

    org_id: UUID
    platform_id: UUID
    context_pk: UUID
    context: str  # the LMS context id
    link_pk: UUID
    sub: str
    user_id: UUID
    email: str
    headers: dict[str, str]  # the learner's bearer token
    db: Database

    async def aclose(self) -> None:
        await self.db.dispose()


async def build_world(
    client: Client,
    services: PlatformServices,
    *,
    item_slug: str = "schema-review",
    lineitem: bool = True,
    score_maximum: float | None = 20.0,
    scopes: list[str] | None = None,
    course_slug: str = "backend-foundations",
) -> LtiWorld:
    """The rows a learner's launch leaves: registration, context (linked course, AGS and NRPS endpoints),
    the learner (provisioned and enrolled), the resource link of ``item_slug`` (with a line item or not)."""
    components = components_of(client.app)
    admin = await auth_headers(client, "admin@demo.test", "demo")
    org_id = UUID((await client.get("/v1/me", headers=admin)).json()["org_id"])
    context = f"ctx-{uuid.uuid4().hex[:8]}"
    services.add_context(context)
    existing = services.add_lineitem(context, {"label": "Schema review", "scoreMaximum": score_maximum or 1.0})
    db = Database.from_settings(components.settings)
    sub = f"lms-learner-{uuid.uuid4().hex[:8]}"
    async with db.transaction(org_id) as session:
        platform = LtiPlatform(
            org_id=org_id,
            name="Test LMS",
            issuer=services.server.url,
            client_id=services.client_id,
            auth_login_url=f"{services.server.url}/auth",
            auth_token_url=services.token_url,
            key_set_url=f"{services.server.url}/jwks",
            deployment_ids=["deployment-1"],
            registered_by="admin",
            extra={},
        )
        session.add(platform)
        await session.flush()
        course = await session.scalar(select_course(course_slug))
        assert course is not None
        lti_context = await provisioning.ensure_context(
            session,
            platform,
            context,
            title="Databases 101",
            label="DB101",
            deployment_id="deployment-1",
            nrps_url=services.memberships_url(context),
            ags_lineitems_url=services.lineitems_url(context),
            ags_scopes=scopes if scopes is not None else AGS_SCOPES,
        )
        lti_context.course_id = course.id
        await session.flush()
        person = provisioning.LtiPerson(sub=sub, name="Lena LMS", roles=(LEARNER,))
        learner = await provisioning.ensure_user(session, platform, person)
        await provisioning.ensure_member(session, lti_context, learner, person.roles, active=True)
        item_id = await session.scalar(select_item(course.id, item_slug))
        link = await provisioning.ensure_resource_link(
            session,
            platform,
            f"rl-{uuid.uuid4().hex[:8]}",
            context=lti_context,
            title="Schema review (Lyceum)",
            course_id=course.id,
            item_id=item_id,
            lineitem_url=existing.url if lineitem else None,
            score_maximum=score_maximum,
        )
        world = LtiWorld(
            org_id=org_id,
            platform_id=platform.id,
            context_pk=lti_context.id,
            context=context,
            link_pk=link.id,
            sub=sub,
            user_id=learner.user_id,
            email=provisioning.synthetic_email(platform.id, sub),
            headers={},
            db=db,
        )
    if not lineitem:
        with services._lock:  # the platform has no line item for this link yet: it is created on demand
            services.lineitems[context].clear()
    await open_assessments_of(components.settings, world.email, course_slug)
    access = components.tokens.issue(
        "access", user_id=world.user_id, org_id=org_id, family_id=uuid.uuid4(), roles=frozenset({"learner"})
    )
    world.headers = {"Authorization": f"Bearer {access.token}"}
    return world


def select_course(slug: str) -> Select[tuple[Course]]:
    return select(Course).where(Course.slug == slug)


def select_item(course_id: UUID, slug: str) -> Select[tuple[UUID]]:
    return select(Item.id).where(Item.course_id == course_id, Item.slug == slug)
