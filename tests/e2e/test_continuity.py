"""Nothing lost on reload, and tabs that share one session: the tutor conversation survives a reload and a
mode switch, "New conversation" starts afresh, and three tabs opened together stay signed in."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from tests.e2e.conftest import shot, sign_in
from tests.e2e.test_learner_journey import COURSE, _open_first_item, fresh_conversation

pytestmark = pytest.mark.e2e


def _ask(page: Page, mode: str, text: str) -> None:
    page.locator("fieldset.modes label", has_text=mode).click()
    page.get_by_label("Message to the tutor").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("tutor-reply").last).to_have_attribute("data-status", "done")


def test_reload_and_mode_switch_keep_the_conversation(page: Page, live_url: str) -> None:
    sign_in(page, live_url)
    page.goto(f"{live_url}/catalog")
    page.get_by_role("link", name=COURSE, exact=True).click()
    _open_first_item(page)
    fresh_conversation(page)

    _ask(page, "Hint", "How do I start?")
    first_reply = page.get_by_test_id("tutor-reply").first.inner_text()
    _ask(page, "Explain", "What is a status line?")  # switching mode keeps the earlier turns
    learner = page.locator("li.message.learner")
    expect(learner).to_have_count(2)
    expect(learner.nth(0)).to_have_attribute("data-mode", "hint")
    expect(learner.nth(1)).to_have_attribute("data-mode", "explain")
    reply_text = page.get_by_test_id("tutor-reply").first.inner_text()
    # Said once: the header's badge names the offline tutor; replies carry no label of their own.
    expect(page.locator(".reply-label")).to_have_count(0)
    expect(page.get_by_text("tokens left")).to_have_count(0)

    page.reload()
    expect(page.get_by_role("list", name="Conversation")).to_have_attribute("aria-busy", "false")
    expect(learner).to_have_count(2)
    expect(learner.nth(0)).to_contain_text("How do I start?")
    expect(learner.nth(0)).to_contain_text("Hint")
    expect(learner.nth(1)).to_contain_text("What is a status line?")
    replies = page.get_by_test_id("tutor-reply")
    expect(replies).to_have_count(2)
    expect(replies.first).to_have_attribute("data-status", "done")
    assert replies.first.inner_text().strip() == reply_text.strip() == first_reply.strip()
    expect(page.locator("fieldset.modes input[value='explain']")).to_be_checked()  # the last mode used
    shot(page, "continuity-01-reload-keeps-the-conversation")

    # Still one conversation: the next question continues it.
    _ask(page, "Socratic", "And the headers?")
    expect(learner).to_have_count(3)

    # The new conversation exists once the server has answered; a reload before that (slow under load)
    # would rightly reopen the old one.
    with page.expect_response(
        lambda r: r.url.endswith("/v1/tutor/sessions") and r.request.method == "POST" and r.status == 201
    ):
        page.get_by_role("button", name="New conversation").click()
    expect(page.locator("li.message")).to_have_count(0)
    expect(page.get_by_role("button", name="New conversation")).to_be_disabled()
    page.reload()
    expect(page.get_by_role("list", name="Conversation")).to_have_attribute("aria-busy", "false")
    expect(page.locator("li.message")).to_have_count(0)  # the new, empty conversation is the open one
    shot(page, "continuity-02-new-conversation")


def _open_tabs_together(context: BrowserContext, url: str, count: int = 3) -> tuple[list[Page], list[int]]:
    """Open tabs the way a browser restoring its session does: every navigation starts before any ends."""
    statuses: list[int] = []

    def on_response(response: Response) -> None:
        if response.url.endswith("/v1/auth/refresh"):
            statuses.append(response.status)

    context.on("response", on_response)
    pages = [context.new_page() for _ in range(count)]
    for tab in pages:
        tab.goto(url, wait_until="commit")
    return pages, statuses


def _all_signed_in(pages: list[Page]) -> None:
    for tab in pages:
        expect(tab.get_by_role("heading", name="My learning")).to_be_visible()


def test_three_tabs_opened_together_stay_signed_in(context: BrowserContext, page: Page, live_url: str) -> None:
    sign_in(page, live_url)
    page.close()
    pages, statuses = _open_tabs_together(context, f"{live_url}/learning")
    _all_signed_in(pages)
    assert statuses, "the tabs exchanged the session cookie"
    assert set(statuses) == {200}, statuses
    # The session is intact (no login was revoked as reuse): every tab keeps working after a reload.
    for tab in pages:
        tab.reload()
    _all_signed_in(pages)
    shot(pages[-1], "continuity-03-three-tabs")


def test_three_tabs_without_web_locks_rely_on_the_server_grace(
    context: BrowserContext, page: Page, live_url: str
) -> None:
    """A browser without Web Locks or BroadcastChannel: every tab refreshes with the same cookie at once,
    and the server answers the repeats within the grace window with the same new pair."""
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });"
        "window.BroadcastChannel = undefined;"
    )
    sign_in(page, live_url)
    page.close()
    pages, statuses = _open_tabs_together(context, f"{live_url}/learning")
    _all_signed_in(pages)
    assert statuses, "the tabs exchanged the session cookie"
    assert set(statuses) == {200}, statuses
    for tab in pages:
        tab.reload()
    _all_signed_in(pages)
