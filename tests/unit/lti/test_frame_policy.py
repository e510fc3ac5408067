"""The frame-ancestors policy: origins only, de-duplicated, never a wildcard or anything that could break
out of the directive; the web app shell carries it, assets do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar, Request
from litestar.testing import AsyncTestClient

from app.domain.lti.frame_origins import frame_ancestors_policy
from app.domain.system.webapp import webapp_router
from app.lib.problems import exception_handlers


def test_policy_keeps_origins_only() -> None:
    policy = frame_ancestors_policy(
        [
            "https://canvas.instructure.com/api/lti/authorize_redirect",
            "https://canvas.instructure.com",
            "https://Moodle.Example.edu:8443/mod/lti/auth.php?x=1",
            "http://127.0.0.1:9000/auth",
            "*",
            "javascript:alert(1)",
            "https://evil.example; script-src *",
            "https://a.example/'none'",  # the path goes: only the origin is kept
            "https://bücher.example/lms",  # an internationalised name: punycode (headers are ASCII)
            "https://" + "ü" * 70 + ".example",  # no valid ASCII form (label too long): left out
            "https://[::1]:8443/auth",
            "",
        ]
    )
    assert policy == (
        "frame-ancestors 'self' http://127.0.0.1:9000 https://[::1]:8443 https://a.example "
        "https://canvas.instructure.com https://moodle.example.edu:8443 https://xn--bcher-kva.example"
    )
    assert frame_ancestors_policy([]) == "frame-ancestors 'self'"


async def test_the_shell_carries_the_policy_and_assets_do_not(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "app-abc123.js").write_text("console.log('hi')")

    async def policy(_: Request[Any, Any, Any]) -> str:
        return "frame-ancestors 'self' https://lms.example"

    for router, expected in (
        (webapp_router(tmp_path, policy), "frame-ancestors 'self' https://lms.example"),
        (webapp_router(tmp_path), "frame-ancestors 'self'"),
    ):
        app = Litestar(route_handlers=[router], exception_handlers=exception_handlers)
        async with AsyncTestClient(app) as client:
            for path in ("/", "/lti/app", "/index.html"):
                page = await client.get(path)
                assert page.headers["content-security-policy"] == expected, path
                assert "x-frame-options" not in page.headers
            asset = await client.get("/assets/app-abc123.js")
            assert "content-security-policy" not in asset.headers
