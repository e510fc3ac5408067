"""Recommendations and search in a real browser (issue 12 §6 and §8): "Recommended next" with a reason for
the demo learner, "Related" beside a lesson, and the header's search box finding a lesson and opening it
with the keyboard. Screenshots in test-artifacts/e2e/."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.config import Settings
from app.db.engine import Database
from app.domain.search.indexer import ContentIndexer
from app.domain.search.vectors import VectorIndex
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import shot, sign_in
from tests.support.search import index_everything
from tests.support.stack import bearer_for

pytestmark = pytest.mark.e2e
COURSE = "Scalable Systems"
REASON = re.compile(r"Next in the pathway|You asked about|Due for review|You struggled with")


@pytest.fixture(scope="module")
def indexed(settings: Settings, seeded: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The content index in PostgreSQL (what the text side of search reads), built here rather than
    waited for from the worker's jobs (seeding enqueued them). Its Chroma lives in a directory of its own:
    the session's worker (started before this module fixture) may be indexing into the session's, and two
    embedded Chroma clients opening one path at once in one process race in chromadb's client registry.
    PostgreSQL takes both writers (chunk rows are inserted with ON CONFLICT DO NOTHING)."""
    own = dataclasses.replace(settings, data_dir=tmp_path_factory.mktemp("e2e-index"))

    async def build() -> None:
        db, vectors = Database.from_settings(own), VectorIndex(own)
        try:
            await index_everything(ContentIndexer(db, vectors), own)
        finally:
            vectors.close()
            await db.dispose()

    asyncio.run(build())


def _demo_learner_in(base: str, title: str) -> dict[str, Any]:
    """learner@demo.test enrolled in the course (again is a no-op); its outline."""
    api = httpx.Client(base_url=base, headers=bearer_for(base, "learner@demo.test"), timeout=30)
    course = next(c for c in api.get("/v1/courses").json()["items"] if c["title"] == title)
    enrolled = api.post(f"/v1/courses/{course['id']}/enrollments")
    assert enrolled.status_code in (200, 201), enrolled.text
    detail: dict[str, Any] = api.get(f"/v1/courses/{course['id']}").json()
    detail["by_slug"] = {i["slug"]: i for m in detail["modules"] for i in m["items"]}
    return detail


def test_recommended_next_shows_items_with_reasons(indexed: None, page: Page, web_url: str) -> None:
    course = _demo_learner_in(web_url, COURSE)
    sign_in(page, web_url)
    page.goto(f"{web_url}/courses/{course['id']}")
    panel = page.get_by_role("region", name="Recommended next")
    expect(panel).to_be_visible()
    first = panel.get_by_role("listitem").first
    expect(first).to_contain_text(REASON)
    link = first.get_by_role("link")
    title = link.inner_text()
    shot(page, "recommended-next")
    assert_accessible(page, "course overview with recommendations")
    link.click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()


def test_related_items_sit_beside_the_lesson(indexed: None, page: Page, web_url: str) -> None:
    course = _demo_learner_in(web_url, COURSE)
    lesson = course["by_slug"]["caching-fundamentals"]
    sign_in(page, web_url)
    page.goto(f"{web_url}/courses/{course['id']}/items/{lesson['id']}")
    expect(page.get_by_role("heading", level=1, name=lesson["title"])).to_be_visible()
    related = page.get_by_role("complementary", name="Related")
    expect(related).to_be_visible()
    links = related.get_by_role("link")
    expect(links.first).to_be_visible()
    assert lesson["title"] not in links.all_inner_texts()
    # Beside the lesson: the aside's column is left of the lesson's, not below it.
    aside_box, main_box = related.bounding_box(), page.locator(".player-main").bounding_box()
    assert aside_box is not None
    assert main_box is not None
    assert aside_box["x"] + aside_box["width"] <= main_box["x"]
    # Leo's seeded pass of the observability quiz (content/seed.yaml) makes a review due in this course.
    expect(page.get_by_role("region", name="Recommended next")).to_contain_text("Due for review: ")
    shot(page, "related-items")
    assert_accessible(page, "lesson with related items")


def test_search_box_finds_a_lesson_and_opens_it_with_the_keyboard(indexed: None, page: Page, web_url: str) -> None:
    _demo_learner_in(web_url, COURSE)
    sign_in(page, web_url)
    box = page.get_by_role("searchbox", name="Search your courses")
    box.fill("token bucket rate limiting")
    results = page.get_by_role("list", name="Results for token bucket rate limiting")
    expect(results).to_be_visible()
    first = results.get_by_role("link").first
    expect(first.locator("mark").first).to_be_visible()  # matched words highlighted
    title = first.locator(".search-title").inner_text()
    shot(page, "search-results")
    assert_accessible(page, "search results")
    box.press("ArrowDown")
    expect(first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    expect(page.get_by_test_id("search-results")).to_be_hidden()
    # Nothing found: a sentence, not an empty box; Escape closes the panel and keeps the focus in the box.
    box.fill("zzqx nonexistentword")
    expect(page.get_by_text("No matches in your courses")).to_be_visible()
    box.press("Escape")
    expect(page.get_by_test_id("search-results")).to_be_hidden()
    expect(box).to_be_focused()


def test_search_and_related_on_a_phone(indexed: None, page: Page, web_url: str) -> None:
    course = _demo_learner_in(web_url, COURSE)
    page.set_viewport_size({"width": 375, "height": 812})
    sign_in(page, web_url)
    box = page.get_by_role("searchbox", name="Search your courses")
    box.fill("cache stampede")
    results = page.get_by_role("list", name="Results for cache stampede")
    expect(results.get_by_role("link").first).to_be_visible()
    shot(page, "search-results-phone")
    assert_accessible(page, "search results on a phone")
    lesson = course["by_slug"]["caching-fundamentals"]
    page.goto(f"{web_url}/courses/{course['id']}/items/{lesson['id']}")
    expect(page.get_by_role("complementary", name="Related").get_by_role("link").first).to_be_visible()
    shot(page, "related-items-phone")
