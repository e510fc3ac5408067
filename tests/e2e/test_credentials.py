"""Credentials in a real browser (issue 13 §5): a learner who completed a course finds its Open Badge on
"My credentials" and downloads it (JSON, VC-JWT, baked SVG); the public share page, signed out, shows what
was achieved and a live verification that passes; an instructor revokes it on "Issued credentials" (a
reason is required) and the public page then shows "Revoked" with the status check failed. Admins see the
issuer profile, its DID and keys. Screenshots go to test-artifacts/e2e/credentials-*.png.

The credential is a fresh learner's, issued the real way: every item of Distributed Systems Lab done (the
last one through the API, which completes the course and so queues ``issue_credential``) and the worker of
the e2e session issuing it. Seeded learners' credentials are left alone: later tests may read them."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from app.config import Settings
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import UI_TIMEOUT_MS, nav_link, shot, sign_in
from tests.e2e.test_learner_journey import _new_learner
from tests.support.stack import bearer_for
from tests.support.threads import run_in_thread

pytestmark = pytest.mark.e2e
COURSE_SLUG = "distributed-systems-lab"
COURSE_TITLE = "Distributed Systems Lab"
FIRST_ITEM = "events-as-source-of-truth"  # no prerequisites: completed last, through the API
DISPLAY_NAME = "Eve Explorer"
REASON = "Issued in error: the final project was submitted by someone else."
ISSUE_WAIT_S = 150  # bounds only a broken worker: the per-minute sweep issues it even if a queued job was lost


@dataclass(frozen=True)
class Holder:
    email: str
    api: httpx.Client
    credential: dict[str, Any]  # the item of GET /v1/me/credentials

    @property
    def id(self) -> str:
        return str(self.credential["id"])


async def _complete_all_but(settings: Settings, email: str, keep: str) -> None:
    """Append the progress events of every item of the course but ``keep`` (lessons and exercises done,
    assessments passed), with the app's own ``append_progress_event``, as tests/support/progress.py does."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.db.engine import create_engine, owner_url
    from app.db.models import Course, Enrollment, Item, User
    from app.domain.progress.services import append_progress_event

    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.connect() as conn, AsyncSession(bind=conn, expire_on_commit=False) as session:
            enrollment = await session.scalar(
                select(Enrollment)
                .join(User, User.id == Enrollment.user_id)
                .join(Course, Course.id == Enrollment.course_id)
                .where(User.email == email.lower(), Course.slug == COURSE_SLUG)
            )
            assert enrollment is not None, f"{email} is not enrolled in {COURSE_SLUG}"
            items = await session.scalars(select(Item).where(Item.course_id == enrollment.course_id))
            for item in items:
                if item.slug == keep:
                    continue
                base = {"item_id": str(item.id), "item_slug": item.slug}
                if item.kind == "assessment":
                    key = f"passed:{enrollment.id}:{item.id}"
                    await append_progress_event(session, enrollment, "assessment.passed", base, key)
                else:
                    key = f"item.completed:{enrollment.id}:{item.id}"
                    payload = {**base, "kind": item.kind, "competencies": []}
                    await append_progress_event(session, enrollment, "item.completed", payload, key)
            await session.commit()
    finally:
        await engine.dispose()


def _in_thread(settings: Settings, email: str, keep: str) -> None:
    """Run the async helper from Playwright's synchronous test thread."""
    run_in_thread(_complete_all_but(settings, email, keep))


@pytest.fixture(scope="module")
def holder(live_url: str, settings: Settings, grading_worker: None) -> Holder:
    """A new learner who completed the course; waits (on the condition) until the worker issued the badge."""
    email = _new_learner(live_url)
    api = httpx.Client(base_url=live_url, headers=bearer_for(live_url, email), timeout=30)
    catalogue = api.get("/v1/courses", params={"limit": 100}).json()["items"]
    course = next(c for c in catalogue if c["title"] == COURSE_TITLE)
    detail = api.get(f"/v1/courses/{course['id']}").json()
    first = next(i for m in detail["modules"] for i in m["items"] if i["slug"] == FIRST_ITEM)
    assert api.post(f"/v1/courses/{course['id']}/enrollments").status_code in (200, 201)
    _in_thread(settings, email, FIRST_ITEM)
    done = api.post(f"/v1/courses/{course['id']}/items/{first['id']}/completion")
    assert done.status_code in (200, 201), done.text

    deadline = time.monotonic() + ISSUE_WAIT_S
    while time.monotonic() < deadline:
        body = api.get("/v1/me/credentials").json()
        mine = [c for c in body.get("items", []) if c["course_id"] == course["id"]]
        if mine:
            return Holder(email=email, api=api, credential=mine[0])
        time.sleep(0.5)
    raise AssertionError(f"no credential was issued to {email} for {COURSE_TITLE}")


def _jwt_payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def test_demo_learner_holds_the_seeded_credential(page: Page, live_url: str) -> None:
    """The demo's Leo finished Distributed Systems Lab in the seed: the pages show something real."""
    sign_in(page, live_url)  # learner@demo.test
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My credentials").click()
    card = page.get_by_test_id("credential-card").filter(has_text=COURSE_TITLE)
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("credential-status")).to_have_text(re.compile(r"Active$"))


def test_learner_sees_and_downloads_their_credential(page: Page, live_url: str, holder: Holder) -> None:
    sign_in(page, live_url, holder.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My credentials").click()
    expect(page.get_by_role("heading", level=1, name="My credentials")).to_be_visible()
    card = page.locator(f"[data-credential='{holder.id}']")
    expect(card).to_contain_text(COURSE_TITLE)
    expect(card.get_by_test_id("credential-status")).to_have_text(re.compile(r"Active$"))
    expect(card.locator(".badge-image")).to_be_visible()
    expect(card.get_by_role("link", name=re.compile(r"^Add to LinkedIn profile"))).to_have_attribute(
        "href", holder.credential["linkedin_url"]
    )
    assert_accessible(page, "my credentials")
    shot(page, "credentials-01-my-credentials")

    with page.expect_download() as json_download:
        card.get_by_role("button", name="Download JSON").click()
    assert json_download.value.suggested_filename.endswith(".json")
    document = json.loads(Path(json_download.value.path()).read_text())
    assert "OpenBadgeCredential" in document["type"]
    assert document["proof"], "the JSON carries its Data Integrity proof"
    assert document == holder.credential["credential"]

    with page.expect_download() as jwt_download:
        card.get_by_role("button", name="Download JWT").click()
    assert jwt_download.value.suggested_filename.endswith(".jwt")
    token = Path(jwt_download.value.path()).read_text().strip()
    assert token == holder.credential["jwt"]
    assert _jwt_payload(token)["jti"] == document["id"]

    with page.expect_download() as svg_download:
        card.get_by_role("link", name="Download badge image").click()
    svg = Path(svg_download.value.path()).read_text()
    assert "<svg" in svg
    assert "openbadges:credential" in svg  # baked: the credential travels inside the image

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    card.get_by_role("button", name="Copy share link").click()
    expect(card.get_by_role("status").filter(has_text="Share link copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == holder.credential["share_url"]

    # The name the share page shows: chosen here, saved with the keyboard.
    name = card.get_by_label("Name shown on the share page")
    name.fill(DISPLAY_NAME)
    name.press("Enter")
    expect(card.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    page.reload()
    expect(page.locator(f"[data-credential='{holder.id}']").get_by_label("Name shown on the share page")).to_have_value(
        DISPLAY_NAME
    )


def test_public_share_page_verifies_signed_out(page: Page, live_url: str, holder: Holder, tmp_path: Path) -> None:
    named = holder.api.patch(f"/v1/me/credentials/{holder.id}", json={"display_name": DISPLAY_NAME})
    assert named.status_code == 200, named.text
    shared = httpx.get(f"{live_url}/v1/credentials/{holder.id}").json()  # the page's own data, no token

    page.goto(f"{live_url}/credentials/{holder.id}")  # a fresh browser context: nobody is signed in
    expect(page.get_by_role("heading", level=1, name=shared["achievement"]["name"])).to_be_visible()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.get_by_test_id("recipient")).to_have_text(DISPLAY_NAME)
    expect(page.get_by_role("main")).to_contain_text(shared["issuer"]["name"])
    expect(page.get_by_role("heading", name="What was achieved")).to_be_visible()

    verification = page.get_by_test_id("verification")
    expect(verification.get_by_test_id("verdict")).to_have_attribute("data-verified", "true")
    checks = verification.locator("li[data-check]")
    expect(checks.first).to_be_visible()
    names = checks.evaluate_all("(items) => items.map((li) => [li.dataset.check, li.dataset.passed])")
    assert {"signature", "schema", "issuer", "validity", "status"} <= {n for n, _ in names}, names
    assert all(passed == "true" for _, passed in names), names
    expect(page.get_by_test_id("revoked-banner")).to_have_count(0)
    assert_accessible(page, "public credential page")
    shot(page, "credentials-02-public-share-verified")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the DID and key ids wrap, nothing scrolls sideways
    expect(page.get_by_test_id("verdict")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "credentials-02b-public-share-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    # Anyone can check a VC-JWT (or a JSON file) on the verify page; garbage fails the "format" check.
    page.get_by_role("link", name="Verify another credential").click()
    expect(page.get_by_role("heading", level=1, name="Verify a credential")).to_be_focused()  # in-app: focus moves
    box = page.get_by_label("Credential JSON or VC-JWT")
    box.fill(holder.credential["jwt"])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verified", "true")
    shot(page, "credentials-03-verify-jwt")
    # The downloaded JSON file, chosen instead of pasted.
    box.fill("")
    downloaded = tmp_path / "badge.json"
    downloaded.write_text(json.dumps(holder.credential["credential"]))
    page.get_by_label("Or choose a downloaded file").set_input_files(downloaded)
    expect(box).not_to_have_value("")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verified", "true")
    box.fill("this is not a credential")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("verdict")).to_have_attribute("data-verified", "false")
    expect(page.locator("li[data-check='format']")).to_have_attribute("data-passed", "false")
    assert_accessible(page, "verify page with a failed report")

    page.goto(f"{live_url}/credentials/{uuid.uuid4()}")
    expect(page.get_by_role("heading", level=1, name="This credential does not exist")).to_be_visible()
    shot(page, "credentials-04-not-found")


def test_admin_sees_the_issuer_profile_and_keys(page: Page, live_url: str, holder: Holder) -> None:
    sign_in(page, live_url, "admin@demo.test")
    issuer = page.get_by_test_id("issuer-profile")
    expect(issuer.get_by_role("heading", name="Issuer profile")).to_be_visible()
    expect(issuer.get_by_test_id("issuer-did")).to_have_text(re.compile(r"^did:web:.+:orgs:demo$"))
    expect(issuer.locator(".key-list li.active")).to_have_count(1)  # the key that signed the holder's badge
    expect(issuer.get_by_label("Issuer name")).not_to_have_value("")
    issuer.get_by_role("button", name="Save issuer profile").click()  # unchanged: saving is harmless
    expect(issuer.get_by_role("status").filter(has_text="Issuer profile saved")).to_be_visible()

    # Rotation asks first; cancelling returns focus to the button (the key stays: other tests sign with it).
    rotate = issuer.get_by_role("button", name="Rotate signing key")
    rotate.click()
    dialog = page.get_by_role("dialog", name="Rotate the signing key?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    assert_accessible(page, "rotate key dialog")
    shot(page, "credentials-05-admin-issuer-rotate")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(rotate).to_be_focused()
    assert_accessible(page, "admin with the issuer profile")


def test_instructor_revokes_and_the_public_page_shows_it(
    page: Page, browser: Browser, live_url: str, holder: Holder
) -> None:
    sign_in(page, live_url, "instructor@demo.test")
    nav_link(page, "Credentials").click()
    expect(page.get_by_role("heading", level=1, name="Issued credentials")).to_be_visible()
    page.get_by_label("Course", exact=True).select_option(label=COURSE_TITLE)
    row = page.locator(f"tr[data-credential='{holder.id}']")
    expect(row).to_contain_text(holder.email)
    expect(row.get_by_test_id("credential-status")).to_have_text(re.compile(r"Active$"))
    assert_accessible(page, "issued credentials")

    row.get_by_role("button", name=re.compile(r"^Revoke")).click()
    dialog = page.get_by_role("dialog", name="Revoke this credential?")
    expect(dialog).to_be_visible()
    reason = dialog.get_by_label("Reason (required)")
    expect(reason).to_be_focused()
    dialog.get_by_role("button", name="Revoke credential").click()  # no reason: refused in the page
    expect(dialog.get_by_role("alert")).to_contain_text("Give a reason")
    assert_accessible(page, "revoke dialog")
    reason.fill(REASON)
    shot(page, "credentials-06-revoke-dialog")
    dialog.get_by_role("button", name="Revoke credential").click()
    expect(dialog).to_be_hidden()
    expect(row.get_by_test_id("credential-status")).to_have_text(re.compile(r"Revoked$"))
    expect(row).to_contain_text(REASON)
    expect(row.get_by_role("button", name=re.compile(r"^Revoke"))).to_have_count(0)
    expect(page.get_by_test_id("revoke-announcement")).to_be_focused()
    shot(page, "credentials-07-revoked-row")
    page.get_by_label("Status", exact=True).select_option("revoked")
    expect(page.locator(f"tr[data-credential='{holder.id}']")).to_be_visible()

    # Anyone opening the share link now sees it revoked, and the live status check fails.
    visitor = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        public = visitor.new_page()
        public.set_default_timeout(UI_TIMEOUT_MS)
        public.goto(f"{live_url}/credentials/{holder.id}")
        expect(public.get_by_test_id("revoked-banner")).to_contain_text("Revoked")
        verification = public.get_by_test_id("verification")
        expect(verification.get_by_test_id("verdict")).to_have_attribute("data-verified", "false")
        expect(verification.locator("li[data-check='status']")).to_have_attribute("data-passed", "false")
        expect(verification.locator("li[data-check='signature']")).to_have_attribute("data-passed", "true")
        assert_accessible(public, "public page of a revoked credential")
        shot(public, "credentials-08-public-revoked")
    finally:
        visitor.close()

    # The learner sees it revoked too, with the reason.
    learner = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        mine = learner.new_page()
        mine.set_default_timeout(UI_TIMEOUT_MS)
        sign_in(mine, live_url, holder.email)
        mine.goto(f"{live_url}/credentials")
        card = mine.locator(f"[data-credential='{holder.id}']")
        expect(card.get_by_test_id("credential-status")).to_have_text(re.compile(r"Revoked$"))
        expect(card.get_by_test_id("revoked-note")).to_contain_text(REASON)
        expect(card.get_by_role("link", name=re.compile(r"^Add to LinkedIn"))).to_have_count(0)
        shot(mine, "credentials-09-learner-revoked")
    finally:
        learner.close()
