"""The web app shell: files as they are, client routes fall back to index.html, API paths stay problem+json."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.domain.system.webapp import webapp_router
from app.lib.problems import exception_handlers


@pytest.fixture
async def shell(tmp_path: Path) -> AsyncTestClient[Litestar]:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "app-abc123.js").write_text("console.log('hi')")
    (tmp_path.parent / "secret.txt").write_text("never served")
    from app.domain.system.controllers import SystemController

    app = Litestar(route_handlers=[SystemController, webapp_router(tmp_path)], exception_handlers=exception_handlers)
    async with AsyncTestClient(app) as client:
        yield client


async def test_client_routes_get_the_app_shell(shell: AsyncTestClient[Litestar]) -> None:
    for path in ("/", "/learning", "/courses/123/items/456"):
        answer = await shell.get(path)
        assert answer.status_code == 200
        assert "id=root" in answer.text
        assert answer.headers["cache-control"] == "no-cache"
        assert answer.headers["content-type"].startswith("text/html")


async def test_assets_are_immutable_and_missing_files_404(shell: AsyncTestClient[Litestar]) -> None:
    asset = await shell.get("/assets/app-abc123.js")
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]
    assert "javascript" in asset.headers["content-type"]
    assert (await shell.get("/assets/missing-123.js")).status_code == 404


async def test_api_paths_and_traversal_are_not_the_app(shell: AsyncTestClient[Litestar]) -> None:
    for path in ("/v1/nothing-here", "/schema/nope", "/../secret.txt", "/%2e%2e/secret.txt"):
        answer = await shell.get(path)
        assert answer.status_code == 404, path
        assert "never served" not in answer.text
    assert (await shell.get("/health")).status_code == 200
