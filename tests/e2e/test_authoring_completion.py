"""Schema completion in the course YAML editor (issue 17), in a real browser: on a new line inside an item
the instructor types the start of a key and CodeMirror lists the item's keys from the course schema
(`GET /v1/authoring/schema`); choosing one inserts it, and with a value the course validates. After a
`kind: ` key the allowed kinds are listed. Screenshot: test-artifacts/e2e/authoring-completion.png."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import UI_TIMEOUT_MS, nav_link, shot, sign_in
from tests.e2e.test_authoring import _upload
from tests.integration.authoring.test_authoring_api import course_yaml

pytestmark = pytest.mark.e2e


# CodeMirror ignores the keys that accept a completion for `interactionDelay` (75 ms by default) after the
# list opens, so that a key pressed as the list appears is not taken as a choice: a person reads the list
# first. Faster than that, Enter was a new line (a run on an idle machine typed "exe" and pressed Enter within
# it). The pause is a lower bound on the time taken, never a limit: a slower machine only waits longer.
COMPLETION_READING_PAUSE_MS = 200


def _accept_completion(page: Page) -> None:
    """Enter on the selected option, as a person does once the list is on screen."""
    page.wait_for_timeout(COMPLETION_READING_PAUSE_MS)
    page.keyboard.press("Enter")


def test_editor_completes_keys_and_values_from_the_course_schema(page: Page, web_url: str) -> None:
    slug = f"completion-{uuid.uuid4().hex[:6]}"
    sign_in(page, web_url, "instructor@demo.test")
    nav_link(page, "Authoring").click()
    page.get_by_role("link", name="New course").click()
    editor = page.get_by_test_id("yaml-editor")
    editor.wait_for()  # CodeMirror loaded on demand
    _upload(page, course_yaml(slug))
    expect(page.get_by_text("No problems found.")).to_be_visible(timeout=UI_TIMEOUT_MS)

    # A new line at the item's indentation, after the intro lesson's `competencies: [basics]`.
    page.locator(".cm-line", has_text="competencies: [basics]").first.click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    completions = page.locator(".cm-tooltip-autocomplete")
    page.keyboard.type("s")
    expect(completions.get_by_role("option").filter(has_text="solution")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(completions.get_by_role("option").filter(has_text="slug")).to_have_count(0)  # the item has one
    page.keyboard.press("Backspace")
    page.keyboard.type("estim")
    option = completions.get_by_role("option").filter(has_text="estimated_minutes")
    expect(option).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(option).to_contain_text("integer 1\u2013600")  # the field's type, from the schema
    shot(page, "authoring-completion")
    _accept_completion(page)
    expect(completions).to_be_hidden()
    page.keyboard.type("15")
    expect(page.locator(".cm-line", has_text="estimated_minutes: 15")).to_have_text("        estimated_minutes: 15")
    expect(page.get_by_text("No problems found.")).to_be_visible(timeout=UI_TIMEOUT_MS)

    # A value: the item kinds after `kind: `, asked for with Ctrl-Space, filtered as the author types.
    kind = page.locator(".cm-line", has_text="kind: lesson").first
    kind.click()
    page.keyboard.press("End")
    for _ in "lesson":
        page.keyboard.press("Backspace")
    page.keyboard.press("Control+Space")
    kinds = completions.get_by_role("option")
    expect(kinds).to_have_count(3)
    page.keyboard.type("exe")
    expect(kinds).to_have_count(1)
    _accept_completion(page)
    expect(page.locator(".cm-line", has_text="kind: exercise")).to_have_text("        kind: exercise")
