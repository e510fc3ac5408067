"""The web app may be framed by the registered platforms only (issue 14 §6): their login and issuer origins,
read with no tenant through lyceum_lti_frame_origins() and cached in-process; a new registration shows up
once the cache expires (a fake clock, not a sleep)."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db.engine import Database, create_engine
from app.domain.lti.frame_origins import FrameAncestors
from tests.integration.lti.admin.helpers import platform_body

Client = AsyncTestClient[Litestar]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_registered_platforms_may_frame_the_app(
    lti_client: Client, lti_settings: Settings, demo_admin: dict[str, str], acme_admin: dict[str, str]
) -> None:
    clock = Clock()
    frames = FrameAncestors(ttl=30, clock=clock)
    db = Database.from_settings(lti_settings)
    try:
        before = await frames.policy(db)
        assert before.startswith("frame-ancestors 'self'")
        assert "*" not in before
        demo = platform_body(
            base="https://issuer-demo.example",
            auth_login_url="https://login-demo.example:8443/auth?x=1",
            # Canvas Cloud frames the tool from the school's own domain: an extra origin the admin names.
            frame_origins=["https://School.instructure.example/courses/1", "https://school.instructure.example"],
        )
        acme = platform_body(base="https://issuer-acme.example")
        for body, headers in ((demo, demo_admin), (acme, acme_admin)):
            created = await lti_client.post("/v1/admin/lti/platforms", json=body, headers=headers)
            assert created.status_code == 201, created.text
        assert created.json()["frame_origins"] == []
        demo_row = (await lti_client.get("/v1/admin/lti/platforms", params={"limit": 200}, headers=demo_admin)).json()
        [mine] = [p for p in demo_row["items"] if p["issuer"] == demo["issuer"]]
        assert mine["frame_origins"] == ["https://school.instructure.example"]  # origins, de-duplicated
        assert await frames.policy(db) == before  # cached
        clock.now += 31
        after = await frames.policy(db)
        origins = after.split()[2:]
        # Both orgs' platforms (the shell is the same for everyone), as origins.
        assert "https://issuer-demo.example" in origins
        assert "https://login-demo.example:8443" in origins
        assert "https://issuer-acme.example" in origins
        assert "https://school.instructure.example" in origins
        assert all("/" not in o.split("://", 1)[1] for o in origins)
    finally:
        await db.dispose()


async def test_a_database_outage_keeps_the_last_policy(lti_settings: Settings) -> None:
    clock = Clock()
    frames = FrameAncestors(ttl=30, clock=clock)
    db = Database.from_settings(lti_settings)
    try:
        known = await frames.policy(db)
    finally:
        await db.dispose()
    # Nothing listens on port 1: the refresh fails and the last policy stays.
    unreachable = Database(create_engine(make_url("postgresql+asyncpg://nobody@127.0.0.1:1/none"), pool_size=1))
    clock.now += 31
    try:
        assert await frames.policy(unreachable) == known
    finally:
        await unreachable.dispose()


async def test_the_app_shell_names_the_registered_platforms(
    lti_client: Client,
    lti_settings: Settings,
    demo_admin: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wiring in app/asgi.py: the built web app's pages carry the policy (a stand-in dist here)."""
    import app.asgi

    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    monkeypatch.setattr(app.asgi, "FRONTEND_DIST", tmp_path)
    body = platform_body(base="https://shell-check.example")
    assert (await lti_client.post("/v1/admin/lti/platforms", json=body, headers=demo_admin)).status_code == 201
    async with AsyncTestClient(app=app.asgi.create_app(lti_settings)) as shell:
        page = await shell.get("/lti/app?code=abc")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert policy.startswith("frame-ancestors 'self' ")
        assert "https://shell-check.example" in policy.split()
        assert "x-frame-options" not in page.headers
        api = await shell.get("/health")
        assert "content-security-policy" not in api.headers
