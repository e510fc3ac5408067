"""Course authoring in a real browser (issue 17): an instructor loads a course YAML with a mistake into the
editor and sees the error inline (a lint marker at its line and the problem listed with its line), fixes it,
edits the title in the form view, creates the draft, previews it in the labelled "Preview" frame (the
pathway and an item page built from the draft), publishes it after the diff in the confirm dialog, and a
learner then finds the course in the catalogue. A learner enrolled at version 1 keeps seeing version 1 after
version 2 is published, and sees version 2 once the instructor moves them. Screenshots go to
test-artifacts/e2e/authoring-*.png."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import UI_TIMEOUT_MS, nav_link, shot, sign_in
from tests.e2e.test_learner_journey import _new_learner
from tests.integration.authoring.test_authoring_api import course_yaml
from tests.support.stack import bearer_for

pytestmark = pytest.mark.e2e


def _upload(page: Page, text: str) -> None:
    page.locator('input[type="file"]').set_input_files(
        files=[{"name": "course.yaml", "mimeType": "application/yaml", "buffer": text.encode()}]
    )


def test_instructor_writes_previews_and_publishes_a_course(page: Page, browser: Browser, web_url: str) -> None:
    slug = f"browser-course-{uuid.uuid4().hex[:6]}"
    title = f"Browser Course {slug[-6:]}"
    sign_in(page, web_url, "instructor@demo.test")
    nav_link(page, "Authoring").click()
    page.get_by_role("heading", name="Authoring", exact=True).wait_for()
    page.get_by_role("link", name="New course").click()
    page.get_by_role("heading", name="New course").wait_for()
    page.get_by_test_id("yaml-editor").wait_for()  # CodeMirror loaded on demand

    # A mistake: shown at its line in the editor and listed, after the debounced check.
    _upload(page, course_yaml(slug).replace("bloom_level: remember", "bloom_level: rememberr"))
    errors = page.get_by_test_id("yaml-errors")
    expect(errors).to_contain_text("Line 17", timeout=UI_TIMEOUT_MS)
    expect(errors).to_contain_text("modules[0].items[0].bloom_level")
    expect(page.locator(".cm-lintRange-error").first).to_be_visible()
    shot(page, "authoring-error-inline")

    # Fixed; then the form view changes the title in the YAML.
    _upload(page, course_yaml(slug))
    expect(page.get_by_text("No problems found.")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_label("Title").fill(title)
    expect(page.get_by_test_id("yaml-editor")).to_contain_text(f'title: "{title}"')
    expect(page.get_by_text("No problems found.")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_text("Draft", exact=True)).to_be_visible()

    page.get_by_role("link", name="Preview").click()
    expect(page.get_by_role("note")).to_contain_text("Preview")
    expect(page.get_by_role("heading", name="Introduction")).to_be_visible()
    page.get_by_role("navigation", name="Course pathway").get_by_role("link", name="Quick check").click()
    expect(page.get_by_role("heading", name="Quick check")).to_be_visible()
    shot(page, "authoring-preview")
    # The preview's tutor answers about the draft's item (the stack's provider, as for learners), saving nothing.
    page.get_by_role("navigation", name="Course pathway").get_by_role("link", name="Introduction").click()
    page.get_by_role("button", name="Try the tutor").click()
    page.get_by_label("Question to the draft").fill("What is this lesson about?")
    page.get_by_role("button", name="Ask", exact=True).click()
    reply = page.get_by_test_id("preview-tutor-reply").last
    expect(reply).to_have_attribute("data-status", "done", timeout=UI_TIMEOUT_MS)
    expect(reply.locator(".markdown")).not_to_be_empty()  # the stack's provider answered (labelled as for learners)
    expect(page.get_by_test_id("preview-tutor-live")).not_to_be_empty()
    page.get_by_role("link", name="Back to the editor").click()

    page.get_by_role("button", name="Publish…").click()
    dialog = page.get_by_role("dialog", name="Publish this course?")
    expect(dialog).to_contain_text("First version")
    expect(dialog).to_contain_text("Quick check")
    shot(page, "authoring-publish-diff")
    dialog.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Published version 1")
    expect(page.get_by_text("Published v1", exact=True)).to_be_visible()

    learner_context = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        learner = learner_context.new_page()
        learner.set_default_timeout(UI_TIMEOUT_MS)
        sign_in(learner, web_url, "learner@demo.test")
        learner.goto(f"{web_url}/catalog?q={slug}")
        expect(learner.get_by_text(title)).to_be_visible()
        shot(learner, "authoring-learner-catalogue")
    finally:
        learner_context.close()


def test_learner_sees_the_new_version_only_after_migration(page: Page, browser: Browser, web_url: str) -> None:
    slug = f"browser-versions-{uuid.uuid4().hex[:6]}"
    title = f"Versioned Course {slug[-6:]}"
    instructor = {**bearer_for(web_url, "instructor@demo.test"), "Content-Type": "application/yaml"}
    v1 = course_yaml(slug, title=title, lesson_body="The first version's text.")
    draft = httpx.post(f"{web_url}/v1/authoring/courses", headers=instructor, content=v1).json()
    course_id = httpx.post(f"{web_url}/v1/authoring/courses/{draft['id']}/publish", headers=instructor).json()[
        "course_id"
    ]
    email = _new_learner(web_url)
    learner = bearer_for(web_url, email)
    assert httpx.post(f"{web_url}/v1/courses/{course_id}/enrollments", headers=learner).status_code == 201
    v2 = course_yaml(slug, title=title, extra_item=True, lesson_body="The second version's text.").replace(
        "title: Introduction", "title: Introduction, revised"
    )
    assert httpx.put(f"{web_url}/v1/authoring/courses/{draft['id']}", headers=instructor, content=v2).is_success
    published = httpx.post(f"{web_url}/v1/authoring/courses/{draft['id']}/publish", headers=instructor)
    assert published.json()["version"] == 2, published.text

    # The learner, on version 1: its lesson text, not the lesson version 2 added, and a note saying so.
    sign_in(page, web_url, email)
    page.goto(f"{web_url}/courses/{course_id}")
    expect(page.get_by_test_id("version-note")).to_contain_text("You are on version 1 of this course")
    pathway = page.get_by_role("navigation", name="Course pathway")
    expect(pathway.get_by_role("link", name=re.compile("Quick check"))).to_be_visible()
    expect(pathway.get_by_role("link", name=re.compile("An extra lesson"))).to_have_count(0)
    pathway.get_by_role("link", name=re.compile(r"^Introduction\W+Lesson")).click()
    expect(page.get_by_role("heading", level=1, name="Introduction", exact=True)).to_be_visible()
    expect(page.get_by_text("The first version's text.")).to_be_visible()
    shot(page, "authoring-learner-pinned-version")

    # The instructor moves the course's learners to the latest version.
    instructor_context = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        teacher = instructor_context.new_page()
        teacher.set_default_timeout(UI_TIMEOUT_MS)
        sign_in(teacher, web_url, "instructor@demo.test")
        teacher.goto(f"{web_url}/teach/authoring/{draft['id']}")
        teacher.get_by_role("button", name="Move learners to the latest version").click()
        expect(teacher.get_by_role("status")).to_contain_text("to version 2")
    finally:
        instructor_context.close()

    page.goto(f"{web_url}/courses/{course_id}")
    pathway = page.get_by_role("navigation", name="Course pathway")
    expect(pathway.get_by_role("link", name=re.compile("An extra lesson"))).to_be_visible()
    expect(page.get_by_test_id("version-note")).to_have_count(0)
    pathway.get_by_role("link", name=re.compile(r"^Introduction, revised\W+Lesson")).click()
    expect(page.get_by_role("heading", level=1, name="Introduction, revised")).to_be_visible()
    expect(page.get_by_text("The second version's text.")).to_be_visible()
