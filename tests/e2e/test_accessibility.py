"""Every page through axe-core, at desktop (1280 px) and phone (375 px) widths, as the role that uses it;
plus the phone layout (tutor drawer one tap away, readable quoted lists, scrolling tables), focus on
navigation, the not-found page, the sign-in page's own words and the offline API docs (issue 10 §6-§7)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from app.lib.release import VERSION
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import UI_TIMEOUT_MS, shot, sign_in
from tests.e2e.test_learner_journey import COURSE, _new_learner
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.stack import bearer_for

pytestmark = pytest.mark.e2e
WIDTHS = {"desktop": (1280, 900), "phone": (375, 812)}
QUOTED_LIST = (
    "You wrote:\n\n> - a request line naming the method and the path you asked for\n"
    "> - headers that describe the body and the client sending it\n\n"
    "Which of these does the server read first?"
)


@pytest.fixture(params=list(WIDTHS))
def sized(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[str, Page]]:
    width, height = WIDTHS[request.param]
    context: BrowserContext = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield request.param, page
    context.close()


def _api(base: str, email: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers=bearer_for(base, email), timeout=30)


def _course(api: httpx.Client) -> dict[str, Any]:
    course = next(c for c in api.get("/v1/courses").json()["items"] if c["title"] == COURSE)
    detail: dict[str, Any] = api.get(f"/v1/courses/{course['id']}").json()
    detail["by_slug"] = {i["slug"]: i for m in detail["modules"] for i in m["items"]}
    return detail


def _check(page: Page, where: str, width: str, heading: str | None = None) -> None:
    if heading is not None:
        expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    expect(page.locator(".status .spinner")).to_have_count(0)  # loaded, not mid-spinner
    assert_accessible(page, f"{where} at {width}")
    shot(page, f"a11y-{width}-{where}")


def test_every_learner_page_passes_axe(sized: tuple[str, Page], web_url: str) -> None:
    width, page = sized
    page.goto(f"{web_url}/login")
    expect(page.get_by_role("heading", name="Sign in to Lyceum")).to_be_visible()
    expect(page.get_by_test_id("demo-hint")).to_have_count(0)  # not a demo deployment: no demo password hint
    _check(page, "login", width)

    page.get_by_label("Organisation").fill("demo")
    page.get_by_label("Email").fill("learner@demo.test")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("don't match an account in this organisation")
    expect(alert).not_to_contain_text("organization")  # the page's words, in UK spelling, not the server's
    _check(page, "login-wrong-password", width)

    email = _new_learner(web_url)
    sign_in(page, web_url, email)
    _check(page, "my-learning-empty", width, "My learning")
    page.get_by_role("link", name="Catalogue", exact=True).click()
    _check(page, "catalogue", width, "Course catalogue")

    api = _api(web_url, email)
    course = _course(api)
    api.post(f"/v1/courses/{course['id']}/enrollments")
    # The exercise also opens the quiz's competency gate (http-apis >= 0.4).
    for slug in ("http-request-lifecycle", "designing-resources", "bookmarks-api-design"):
        api.post(f"/v1/courses/{course['id']}/items/{course['by_slug'][slug]['id']}/completion")
    base = f"{web_url}/courses/{course['id']}"

    page.goto(base)
    _check(page, "course-overview", width, COURSE)
    items = {
        "lesson-code": "http-request-lifecycle",
        "lesson-table": "designing-resources",
        "exercise": "bookmarks-api-design",
        "assessment-quiz": "http-fundamentals-quiz",
        "locked-item": "bearer-token-parser",
    }
    for where, slug in items.items():
        item = course["by_slug"][slug]
        page.goto(f"{base}/items/{item['id']}")
        expect(page.get_by_role("heading", level=1, name=item["title"])).to_be_visible()
        if where == "locked-item":
            expect(page.get_by_test_id("locked-item")).to_be_visible()
        elif where.startswith("assessment"):
            expect(page.locator("fieldset.question").first).to_be_visible()
        else:
            expect(page.locator(".item .markdown")).to_be_visible()
        _check(page, where, width)

    page.goto(f"{web_url}/learning")
    _check(page, "my-learning", width, "My learning")
    for where, path in (
        ("not-found-page", "/no/such/page"),
        ("not-found-course", f"/courses/{uuid.uuid4()}"),
        ("not-found-bad-course-id", "/courses/not-a-course"),
        ("not-found-item", f"/courses/{course['id']}/items/{uuid.uuid4()}"),
    ):
        page.goto(f"{web_url}{path}")
        expect(page.get_by_test_id("not-found")).to_be_visible()
        expect(page.get_by_role("button", name="Try again")).to_have_count(0)  # not an error: a page
        _check(page, where, width)


@pytest.mark.parametrize("email", ["instructor@demo.test", "admin@demo.test"])
def test_every_teaching_page_passes_axe(sized: tuple[str, Page], web_url: str, email: str) -> None:
    width, page = sized
    role = email.split("@")[0]
    sign_in(page, web_url, email)
    for where, path, heading in (
        ("feed", "/teach/feed", None),
        ("queue", "/teach/queue", None),
        ("metrics", "/teach/metrics", None),
    ):
        page.goto(f"{web_url}{path}")
        page.locator("#main h1").first.wait_for()
        _check(page, f"{role}-{where}", width, heading)


def test_learners_see_the_staff_only_page_accessibly(sized: tuple[str, Page], web_url: str) -> None:
    width, page = sized
    sign_in(page, web_url)
    page.goto(f"{web_url}/teach/feed")
    expect(page.get_by_role("heading", name="For instructors and admins")).to_be_visible()
    _check(page, "learner-teach-refused", width)


def test_focus_moves_to_the_page_heading_on_navigation(page: Page, web_url: str) -> None:
    sign_in(page, web_url)
    page.get_by_role("link", name="Catalogue", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Course catalogue")).to_be_focused()
    page.get_by_role("link", name=COURSE, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=COURSE)).to_be_focused()
    pathway = page.get_by_role("navigation", name="Course pathway")
    first = pathway.get_by_role("link").first
    title = first.locator(".item-title").inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_focused()


def test_phone_tutor_is_one_tap_away(browser: Browser, web_url: str, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(reply=QUOTED_LIST)
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        sign_in(page, web_url)
        page.goto(f"{web_url}/catalog")
        page.get_by_role("link", name=COURSE, exact=True).click()
        page.get_by_role("navigation", name="Course pathway").get_by_role("link").first.click()
        page.locator(".item .markdown").wait_for()
        toggle = page.get_by_role("button", name="Ask the tutor")
        expect(toggle).to_be_in_viewport()  # reachable without scrolling
        expect(page.get_by_label("Message to the tutor")).to_be_hidden()  # the drawer is closed
        shot(page, "phone-01-lesson-with-tutor-tab")
        toggle.click()  # one tap
        expect(page.get_by_label("Message to the tutor")).to_be_in_viewport()
        expect(page.get_by_role("button", name="Back to the lesson")).to_be_focused()
        assert_accessible(page, "tutor drawer at 375 px")
        page.get_by_label("Message to the tutor").fill("What is in a request?")
        page.get_by_role("button", name="Send").click()
        reply = page.get_by_test_id("tutor-reply").last
        expect(reply).to_have_attribute("data-status", "done")
        quoted = reply.locator("blockquote li").first
        expect(quoted).to_be_visible()
        width = quoted.evaluate("e => e.getBoundingClientRect().width")
        chars = quoted.evaluate(
            """e => { const s = getComputedStyle(e); const c = document.createElement('canvas').getContext('2d');
                      c.font = `${s.fontSize} ${s.fontFamily}`; return e.getBoundingClientRect().width
                      / c.measureText('abcdefghijklmnopqrstuvwxyz').width * 26; }"""
        )
        assert chars >= 30, f"quoted list line holds only ~{chars:.0f} characters ({width:.0f} px)"
        shot(page, "phone-02-tutor-drawer-quoted-list")
        page.keyboard.press("Escape")
        expect(toggle).to_be_focused()
        expect(page.get_by_label("Message to the tutor")).to_be_hidden()
    finally:
        context.close()


def test_phone_lesson_tables_scroll_instead_of_splitting_words(browser: Browser, web_url: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        email = _new_learner(web_url)
        api = _api(web_url, email)
        course = _course(api)
        api.post(f"/v1/courses/{course['id']}/enrollments")
        first = course["by_slug"]["http-request-lifecycle"]["id"]
        api.post(f"/v1/courses/{course['id']}/items/{first}/completion")  # unlocks the lesson with the table
        sign_in(page, web_url, email)
        page.goto(f"{web_url}/courses/{course['id']}/items/{course['by_slug']['designing-resources']['id']}")
        region = page.locator(".item .markdown .table-scroll").first
        expect(region).to_be_visible()
        assert region.get_attribute("tabindex") == "0"  # keyboard users can scroll it
        # Every word stays whole: no cell is narrower than its longest word.
        broken = region.evaluate(
            """r => [...r.querySelectorAll('td, th')].filter(cell => {
                   const range = document.createRange(); const words = cell.innerText.split(/\\s+/).filter(Boolean);
                   const probe = document.createElement('span'); probe.style.whiteSpace = 'nowrap';
                   probe.style.font = getComputedStyle(cell).font; document.body.append(probe);
                   const widest = Math.max(0, ...words.map(w => { probe.textContent = w; return probe.offsetWidth; }));
                   probe.remove(); range.detach();
                   return cell.clientWidth + 1 < widest; }).map(c => c.innerText)"""
        )
        assert broken == [], f"cells that split words: {broken}"
        shot(page, "phone-03-lesson-table")
    finally:
        context.close()


def test_api_docs_render_offline(page: Page, web_url: str) -> None:
    """Swagger UI 5 reads the OpenAPI 3.1 document; every request stays on this server (assets bundled)."""
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((web_url, "data:")) else outside.append(r.url))
    page.goto(f"{web_url}/schema")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    # Swagger UI renders the tag sections of a long document as they scroll into view (it did not with fewer
    # operations): scroll down to the courses section as a reader would (bounded by the page's height).
    courses = page.locator(".opblock-summary-path", has_text="/v1/courses").first
    for _ in range(100):
        if courses.count():
            break
        page.mouse.wheel(0, 800)
        page.wait_for_timeout(50)
    expect(courses).to_be_visible()
    shot(page, "api-docs")
    assert outside == [], f"the docs page reached beyond the server: {outside}"


def test_demo_hint_only_in_demo_mode(sized: tuple[str, Page], web_url: str) -> None:
    """This server is not in demo mode (no hint: covered above); a demo deployment's /v1/config says so."""
    width, page = sized
    page.route("**/v1/config", lambda route: route.fulfill(json={"demo_mode": True, "version": VERSION}))
    page.goto(f"{web_url}/login")
    expect(page.get_by_test_id("demo-hint")).to_contain_text("learner@demo.test")
    _check(page, "login-demo-mode", width)


def test_the_grading_spinner_is_a_visible_circle(page: Page, web_url: str) -> None:
    """The spinner beside "Grading…" is an inline span: it must still be a 1 rem circle, not a 2 px sliver."""
    sign_in(page, web_url)
    size = page.evaluate(
        """() => { const p = document.createElement('p'); p.innerHTML = '<span class="spinner"></span> Grading…';
                   document.querySelector('#main').append(p);
                   const r = p.querySelector('.spinner').getBoundingClientRect(); p.remove();
                   return [r.width, r.height]; }"""
    )
    assert min(size) >= 12, f"spinner is {size[0]:.0f}x{size[1]:.0f} px"
