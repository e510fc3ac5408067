"""The invitation flow in a real browser (issue 17): an admin invites someone from the People page, the invitee
opens the one-time link in a fresh browser context (no session), sets their name and password, and lands signed
in with the invited role; the spent link then says so."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import UI_TIMEOUT_MS, nav_link, shot, sign_in


def test_an_invitee_joins_through_the_link_with_the_given_role(page: Page, browser: Browser, web_url: str) -> None:
    sign_in(page, web_url, "admin@demo.test")
    page.goto(f"{web_url}/admin/people")
    expect(page.get_by_test_id("people-table")).to_be_visible()
    email = f"invitee-{uuid.uuid4().hex[:8]}@demo.test"
    invite = page.get_by_role("form", name="Invite someone")
    invite.get_by_label("Email").fill(email)
    invite.get_by_label("Role").select_option("instructor")
    invite.get_by_role("button", name="Invite").click()
    link_box = page.get_by_label("Invitation link")
    expect(link_box).to_be_visible()
    link = link_box.input_value()
    assert link.startswith(f"{web_url}/invite/")
    expect(page.get_by_role("row", name=email)).to_contain_text("Waiting")
    assert_accessible(page, "the People page")
    shot(page, "invite-admin-people")

    fresh = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        invitee = fresh.new_page()
        invitee.set_default_timeout(UI_TIMEOUT_MS)
        invitee.goto(link)
        expect(invitee.get_by_role("heading", name="Join Demo", exact=False)).to_be_visible()
        expect(invitee.get_by_text(email)).to_be_visible()
        assert_accessible(invitee, "the invitation page")
        invitee.get_by_label("Your name").fill("Grace Hopper")
        invitee.get_by_label("Password (at least 10 characters)").fill("a-long-password-1")
        invitee.get_by_role("button", name="Join and sign in").click()
        # Instructors land on the live feed; the admin pages are not theirs.
        invitee.get_by_role("heading", name="Live feed", exact=True).wait_for()
        nav = invitee.get_by_role("navigation").first
        expect(nav_link(invitee, "Progress")).to_be_visible()
        expect(nav.get_by_role("button", name="Admin", exact=True)).to_have_count(0)
        expect(nav.get_by_role("link", name="Administration")).to_have_count(0)
        expect(invitee.get_by_text("Grace Hopper")).to_be_visible()
        shot(invitee, "invite-joined")

        # The link worked once.
        spent = fresh.new_page()
        spent.goto(link)
        expect(spent.get_by_role("heading", name="This invitation can't be used")).to_be_visible()
        expect(spent.get_by_role("alert")).to_contain_text("already been used")
    finally:
        fresh.close()
