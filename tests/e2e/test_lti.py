"""LTI in a real browser (issue 14 §6, §3): the LMS page on one site (http://127.0.0.1:<port>) embeds Lyceum
on another (http://localhost:<port>) in an iframe where third-party cookies are blocked.

A learner's launch runs the whole browser round trip inside the iframe (auto-posted OIDC login initiation,
the platform's authorization answer auto-posting the id_token to /lti/launch, /lti/app exchanging the code)
and lands on the item with the tutor beside it; a tutor message streams its reply over the iframe's socket.
An instructor's Deep Linking launch opens the picker, two items are chosen, and the platform receives the
signed response by a real form post. Nothing depends on a cookie: the test shows none sticks in the iframe.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import Browser, Frame, Page, expect, sync_playwright
from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import Assessment, Item
from app.domain.lti import toolkeys
from app.lib.lti import claims as c
from app.lib.lti.deeplink import CLAIM, DL_CLAIM
from app.server.embedded import free_port
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import CHROMIUM_FLAGS, UI_TIMEOUT_MS, _chromium, _missing, shot
from tests.integration.credentials.issuer_helpers import org_of
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.lti.platform import INSTRUCTOR, LEARNER, TestPlatform, insert_registration
from tests.support.lti.server import PlatformServer, Recorded, Reply
from tests.support.stack import make_settings, run_live_server

T = TypeVar("T")
IFRAME_WIDTH = 800  # a typical LMS content area


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run from a thread: Playwright's sync API keeps its own loop on the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _demo_content(settings: Settings) -> dict[str, Any]:
    db = Database.from_settings(settings)
    try:
        demo = await org_of(settings, "demo")
        async with db.transaction(demo) as session:
            query = select(Item).join(Assessment, Assessment.item_id == Item.id).order_by(Item.id).limit(1)
            quiz = (await session.execute(query)).scalar_one()
            lesson = await session.scalar(
                select(Item).where(Item.kind == "lesson", Item.course_id == quiz.course_id).order_by(Item.position)
            )
            assert lesson is not None
            return {"org_id": demo, "quiz": (str(quiz.id), quiz.title), "lesson": (str(lesson.id), lesson.title)}
    finally:
        await db.dispose()


async def _tool_keys(settings: Settings) -> dict[str, Any]:
    db = Database.from_settings(settings)
    try:
        async with db.transaction(None) as session:
            return await toolkeys.published_jwks(session, settings)
    finally:
        await db.dispose()


class Lms:
    """The platform's browser-facing pages on the test platform server."""

    def __init__(self, server: PlatformServer, platform: TestPlatform, tool: str) -> None:
        self.server, self.platform, self.tool = server, platform, tool
        self.returns: list[Recorded] = []
        server.route("GET", "/lms/course", self.course_page)
        server.route("GET", urlsplit(platform.auth_login_url).path, self.authorize)
        server.route("POST", "/lms/deep-link-return", self.deep_link_return)

    def course_page(self, request: Recorded) -> Reply:
        """An LMS course page: the tool in an iframe, opened by an auto-posted OIDC login initiation."""
        hint = request.query.get("hint", ["home"])[0]
        params = self.platform.login_params(login_hint=hint, lti_message_hint=hint)
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
        )
        page = f"""<!doctype html><html><head><title>Test LMS course</title></head><body>
<h1>Intro to Python (LMS)</h1>
<form id="launch" method="post" action="{self.tool}/lti/login" target="tool">{fields}</form>
<iframe name="tool" title="Lyceum" width="{IFRAME_WIDTH}" height="760"></iframe>
<script>document.getElementById("launch").submit();</script>
</body></html>"""
        return Reply(200, page, content_type="text/html; charset=utf-8")

    def authorize(self, request: Recorded) -> Reply:
        """The platform's OIDC authorization endpoint: a signed id_token auto-posted to the tool's launch."""
        q = {k: v[0] for k, v in request.query.items()}
        hint = q.get("lti_message_hint", "")
        if hint == "deeplink":
            token = self.platform.id_token(
                nonce=q["nonce"],
                message_type=c.DEEP_LINKING_REQUEST,
                sub="teacher-e2e",
                roles=[INSTRUCTOR],
                person={"name": "Tess Teacher", "email": "tess@lms.example"},
                deep_linking={
                    "deep_link_return_url": f"{self.server.url}/lms/deep-link-return",
                    "accept_types": ["ltiResourceLink"],
                    "accept_presentation_document_targets": ["iframe"],
                    "accept_multiple": True,
                    "accept_lineitem": True,
                    "data": "dl-e2e-data",
                },
            )
        else:
            item_id = hint.removeprefix("item:")
            token = self.platform.id_token(
                nonce=q["nonce"],
                sub=f"learner-e2e-{secrets.token_hex(3)}",
                roles=[LEARNER],
                person={"name": "Lee Learner", "email": "lee@lms.example"},
                resource_link={"id": f"link-{item_id}", "title": "Lesson"},
                custom={"lyceum_item_id": item_id},
            )
        page = f"""<!doctype html><html><body>
<form id="f" method="post" action="{html.escape(q["redirect_uri"])}">
<input type="hidden" name="id_token" value="{html.escape(token)}">
<input type="hidden" name="state" value="{html.escape(q["state"])}">
</form><script>document.getElementById("f").submit();</script></body></html>"""
        return Reply(200, page, content_type="text/html; charset=utf-8")

    def deep_link_return(self, request: Recorded) -> Reply:
        self.returns.append(request)
        return Reply(200, "<!doctype html><html><body><h1>Content added</h1></body></html>", content_type="text/html")


@pytest.fixture(scope="module")
def lti_stack(
    settings: Settings, seeded: Any, fake_anthropic_server: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Lyceum at http://localhost:<port> (its public URL: the launch checks target_link_uri against it), the
    test LMS at http://127.0.0.1:<port>, a registration of it in the demo org, and two demo items."""
    from app.asgi import create_app

    port = free_port()
    tool = f"http://localhost:{port}"
    web = make_settings(
        settings.database_url,
        settings.redis_url,
        settings.redis_key_prefix + "lti-web:",
        Path(tmp_path_factory.mktemp("lti-web")),
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake_anthropic_server.base_url,
        LYCEUM_TUTOR_RATE_LIMIT_TUTOR_USER="1000/1s",
        LYCEUM_PUBLIC_URL=tool,
    )
    _, server, thread = run_live_server(create_app(web), port=port)
    lms_server = PlatformServer().start()
    platform = TestPlatform(server=lms_server, tool_url=tool, name="Test LMS")
    content = asyncio.run(_demo_content(web))
    asyncio.run(insert_registration(web, content["org_id"], platform))
    lms = Lms(lms_server, platform, tool)
    yield {"tool": tool, "lms": lms, "settings": web, **content}
    lms_server.stop()
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def lti_browser(lti_stack: dict[str, Any]) -> Iterator[Browser]:
    reason = _missing()
    if reason:
        import os

        if os.environ.get("LYCEUM_E2E_REQUIRED") == "1":
            pytest.fail(f"browser tests cannot run: {reason}")
        pytest.skip(reason)
    flags = [
        *CHROMIUM_FLAGS,
        # localhost is the tool's site, 127.0.0.1 the LMS's: two sites, so the iframe is third-party.
        "--host-resolver-rules=MAP localhost 127.0.0.1",
        # Chrome's third-party cookie phase-out, as Safari and Chrome users meet it in an LMS.
        "--test-third-party-cookie-phaseout",
    ]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), args=flags, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def lms_page(lti_browser: Browser) -> Iterator[Page]:
    context = lti_browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    # Third-party cookies restricted explicitly too (the DevTools protocol's cookie controls).
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.setCookieControls",
        {
            "enableThirdPartyCookieRestriction": True,
            "disableThirdPartyCookieMetadata": True,
            "disableThirdPartyCookieHeuristics": True,
        },
    )
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    context.close()


def _tool_frame(page: Page, tool: str) -> Frame:
    frame = page.frame(name="tool")
    assert frame is not None
    return frame


def _assert_no_cookies_stick(page: Page, frame: Frame, tool: str) -> None:
    """In the iframe a cookie does not stick, whoever sets it; the tool got none from its responses."""
    frame.evaluate("document.cookie = 'lyceum_probe=1; SameSite=None; Secure; path=/'")
    assert frame.evaluate("document.cookie") == ""
    assert page.context.cookies([tool]) == []


BLOCK_WEBSOCKETS = """
window.WebSocket = class BlockedSocket {
  constructor() { this.readyState = 0; setTimeout(() => this.onclose && this.onclose({ code: 1006 }), 10); }
  send() { throw new Error('not open'); }
  close() {}
};
"""


@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_learner_launch_into_an_iframe_and_the_tutor_replies(
    lms_page: Page, lti_stack: dict[str, Any], transport: str
) -> None:
    tool, lms = lti_stack["tool"], lti_stack["lms"]
    if transport == "sse":  # a network that refuses WebSocket upgrades (the script runs in every frame)
        lms_page.add_init_script(BLOCK_WEBSOCKETS)
    item_id, item_title = lti_stack["lesson"]
    lms_page.goto(f"{lms.server.url}/lms/course?{urlencode({'hint': f'item:{item_id}'})}")
    expect(lms_page.get_by_role("heading", name="Intro to Python (LMS)")).to_be_visible()
    frame = lms_page.frame_locator('iframe[name="tool"]')
    # The launch landed on the item, in the compact layout, naming the LMS.
    expect(frame.get_by_role("heading", level=1, name=item_title)).to_be_visible()
    expect(frame.get_by_test_id("lti-context")).to_have_text("Opened from Test LMS · Intro to Python")
    expect(frame.get_by_role("navigation", name="Main")).to_have_count(0)
    tool_frame = _tool_frame(lms_page, tool)
    url = urlsplit(tool_frame.url)
    assert f"{url.scheme}://{url.netloc}" == tool
    assert url.path == f"/courses/{urlsplit(tool_frame.url).path.split('/')[2]}/items/{item_id}"
    assert "code=" not in tool_frame.url  # the one-time code left the address bar
    _assert_no_cookies_stick(lms_page, tool_frame, tool)
    # The tutor is beside the item in an 800 px iframe, and streams its reply through the iframe.
    connection = frame.locator("p.connection")
    expect(connection).to_have_attribute("data-status", "open")
    expect(connection).to_have_attribute("data-transport", transport)
    message = frame.get_by_label("Message to the tutor")
    expect(message).to_be_visible()
    message.fill("Why is HTTP called stateless?")
    frame.get_by_role("button", name="Send").click()
    reply = frame.get_by_test_id("tutor-reply").last
    expect(reply).to_have_attribute("data-status", "done")
    expect(reply).not_to_be_empty()
    assert_accessible(tool_frame, "the launched item in the iframe")  # type: ignore[arg-type]
    shot(lms_page, f"lti-01-learner-in-iframe-{transport}")


def test_deep_linking_round_trip_with_two_items(lms_page: Page, lti_stack: dict[str, Any]) -> None:
    tool, lms, web = lti_stack["tool"], lti_stack["lms"], lti_stack["settings"]
    (lesson_id, lesson_title), (quiz_id, quiz_title) = lti_stack["lesson"], lti_stack["quiz"]
    before = len(lms.returns)
    lms_page.goto(f"{lms.server.url}/lms/course?hint=deeplink")
    frame = lms_page.frame_locator('iframe[name="tool"]')
    expect(frame.get_by_role("heading", level=1, name="Add Lyceum content to Test LMS")).to_be_visible()
    tool_frame = _tool_frame(lms_page, tool)
    _assert_no_cookies_stick(lms_page, tool_frame, tool)
    assert_accessible(tool_frame, "the deep-linking picker")  # type: ignore[arg-type] # a Frame runs axe alike
    frame.get_by_label("Search courses, modules and items").fill(lesson_title)
    lesson_box = frame.get_by_role("checkbox", name=lesson_title).and_(frame.locator(f'[value="item:{lesson_id}"]'))
    lesson_box.check()
    frame.get_by_label("Search courses, modules and items").fill(quiz_title)
    frame.get_by_role("checkbox", name=quiz_title).and_(frame.locator(f'[value="item:{quiz_id}"]')).check()
    expect(frame.get_by_text("2 chosen")).to_be_visible()
    shot(lms_page, "lti-02-deep-link-picker")
    frame.get_by_role("button", name="Add to Test LMS").click()
    expect(frame.get_by_role("heading", name="Content added")).to_be_visible()

    assert len(lms.returns) == before + 1
    posted = lms.returns[-1].form()
    assert set(posted) == {"JWT"}
    keys = KeySet.import_key_set(_run(_tool_keys(web)))  # type: ignore[arg-type]
    claims = jwt.decode(posted["JWT"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == lms.platform.client_id
    assert claims["aud"] == lms.platform.issuer
    assert claims[CLAIM + "deployment_id"] == lms.platform.deployment_id
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[DL_CLAIM + "data"] == "dl-e2e-data"
    assert claims["nonce"]
    items = claims[DL_CLAIM + "content_items"]
    assert [i["custom"] for i in items] == [{"lyceum_item_id": lesson_id}, {"lyceum_item_id": quiz_id}]
    assert all(i["type"] == "ltiResourceLink" and i["url"] == f"{tool}/lti/launch" for i in items)
    assert "lineItem" not in items[0]
    assert items[1]["lineItem"]["resourceId"] == quiz_id
