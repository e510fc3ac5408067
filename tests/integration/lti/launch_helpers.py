"""Helpers of the launch tests: owner-role SQL (to look behind row-level security), seeded orgs and items,
and a test platform registered in an org."""

from __future__ import annotations

import uuid
from typing import Any

from app.config import Settings
from tests.support.databases import owner_sql
from tests.support.lti.platform import TestPlatform, insert_registration
from tests.support.lti.server import PlatformServer


async def org_id(settings: Settings, slug: str) -> uuid.UUID:
    rows = await owner_sql(settings, "select id from organizations where slug = :slug", {"slug": slug})
    return uuid.UUID(str(rows[0][0]))


async def other_org_slug(settings: Settings) -> str:
    rows = await owner_sql(settings, "select slug from organizations where slug <> 'demo' order by slug limit 1")
    return str(rows[0][0])


async def an_item(settings: Settings, slug: str, kind: str = "assessment") -> tuple[uuid.UUID, uuid.UUID]:
    """(item id, course id) of one of the org's items of ``kind``."""
    rows = await owner_sql(
        settings,
        "select i.id, i.course_id from items i join organizations o on o.id = i.org_id "
        "where o.slug = :slug and i.kind = :kind order by i.slug limit 1",
        {"slug": slug, "kind": kind},
    )
    return uuid.UUID(str(rows[0][0])), uuid.UUID(str(rows[0][1]))


async def registered(settings: Settings, server: PlatformServer, slug: str = "demo", **fields: Any) -> TestPlatform:
    platform = TestPlatform(server=server, tool_url=settings.base_url, **fields)
    await insert_registration(settings, await org_id(settings, slug), platform)
    return platform


async def lti_user_rows(settings: Settings, platform: TestPlatform, sub: str) -> list[Any]:
    """(user id, org id) of every LTI user of ``sub`` under ``platform``."""
    return await owner_sql(
        settings,
        "select user_id, org_id from lti_users where platform_id = :platform and sub = :sub",
        {"platform": platform.id, "sub": sub},
    )


async def roles_of(settings: Settings, user_id: uuid.UUID) -> list[tuple[str, str]]:
    """(org slug, role) of every membership of the user."""
    rows = await owner_sql(
        settings,
        "select o.slug, m.role from memberships m join organizations o on o.id = m.org_id "
        "where m.user_id = :user order by o.slug, m.role",
        {"user": user_id},
    )
    return [(str(r[0]), str(r[1])) for r in rows]
