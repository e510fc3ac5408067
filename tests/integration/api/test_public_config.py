"""GET /v1/config: what the web app needs before anyone signs in (demo mode); public and secret-free."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.config import Settings, load_settings
from app.lib.release import VERSION


async def test_config_is_public_and_demo_mode_is_off_by_default(client: AsyncTestClient[Litestar]) -> None:
    answer = await client.get("/v1/config")
    assert answer.status_code == 200
    assert answer.json() == {"demo_mode": False, "version": VERSION}


async def test_demo_mode_shows_when_turned_on(settings: Settings, seeded: object) -> None:
    async with AsyncTestClient(app=create_app(replace(settings, demo_mode=True))) as demo:
        answer = await demo.get("/v1/config")
    assert answer.status_code == 200
    assert answer.json() == {"demo_mode": True, "version": VERSION}


def test_demo_mode_is_read_from_the_environment(tmp_path: Path) -> None:
    assert load_settings({"LYCEUM_DATA_DIR": str(tmp_path)}).demo_mode is False
    assert load_settings({"LYCEUM_DATA_DIR": str(tmp_path), "LYCEUM_DEMO_MODE": "true"}).demo_mode is True


async def test_the_api_docs_use_swagger_ui_5_served_locally(client: AsyncTestClient[Litestar]) -> None:
    page = await client.get("/schema/swagger")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "https://" not in page.text.split("<body")[0]  # no CDN: the docs work offline
    bundle = await client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert b"OpenAPI 3.1" in bundle.content or b"3.1.0" in bundle.content
    assert (await client.get("/schema/openapi.json")).json()["openapi"].startswith("3.1")
