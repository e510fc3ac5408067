"""The grounded tutor in the browser (issue 12 §3): a question about another lesson of the course gets a reply
with "Sources" links under it; a link opens that lesson in the course player, and the sources come back
after a reload (the transcript keeps them)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import distinct, func, select

from app.config import Settings
from app.content.loader import load_courses
from app.db.engine import create_engine, owner_url
from app.db.models import ContentChunk, Course
from tests.e2e.conftest import ARTIFACTS, shot, sign_in
from tests.e2e.test_learner_journey import COURSE, _open_first_item, fresh_conversation

pytestmark = pytest.mark.e2e
LESSON = "Passwords, sessions and bearer tokens"
INDEX_DEADLINE_SECONDS = 180


@pytest.fixture(scope="module", autouse=True)
def indexed(settings: Settings, seeded: Any, grading_worker: None) -> None:
    """The content index, built by the worker from the jobs `lyceum seed` queued (as after `make dev`): wait
    until every seeded course has its chunks (a condition, bounded only for a broken worker). Indexing here
    as well would open a second Chroma client on the same path beside the worker's, which Chroma refuses."""

    seeded_slugs = [course.slug for course in load_courses(settings.content_dir / "courses")]

    async def indexed_courses() -> tuple[int, int]:
        engine = create_engine(owner_url(settings.database_url), pool_size=1)
        try:
            async with engine.connect() as conn:
                # The seeded courses only: other modules publish courses of their own (authoring) or insert
                # some directly (fresh orgs), which no seed queued for indexing.
                seeded_courses = select(Course.id).where(Course.is_published, Course.slug.in_(seeded_slugs))
                published = await conn.scalar(select(func.count()).select_from(seeded_courses.subquery()))
                with_chunks = await conn.scalar(
                    select(func.count(distinct(ContentChunk.course_id))).where(
                        ContentChunk.course_id.in_(seeded_courses)
                    )
                )
                return int(published or 0), int(with_chunks or 0)
        finally:
            await engine.dispose()

    deadline = time.monotonic() + INDEX_DEADLINE_SECONDS
    while True:
        published, with_chunks = asyncio.run(indexed_courses())
        if published and with_chunks >= published:
            return
        assert time.monotonic() < deadline, f"the worker indexed {with_chunks} of {published} courses"
        time.sleep(0.5)


def test_a_reply_links_the_lessons_it_was_grounded_on(page: Page, live_url: str) -> None:
    sign_in(page, live_url)
    page.goto(f"{live_url}/catalog")
    page.get_by_role("link", name=COURSE, exact=True).click()
    _open_first_item(page)
    fresh_conversation(page)

    page.get_by_label("Message to the tutor").fill("How should I store user passwords safely?")
    page.get_by_role("button", name="Send").click()
    reply = page.get_by_test_id("tutor-reply").last
    expect(reply).to_have_attribute("data-status", "done")
    sources = reply.get_by_role("navigation", name="Sources")
    expect(sources).to_contain_text("Sources:")
    link = sources.get_by_role("link", name=LESSON)
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", re.compile(r"/courses/[0-9a-f-]+/items/[0-9a-f-]+$"))
    # The passage is the link's accessible description.
    expect(link).to_have_accessible_description(re.compile(r"password", re.IGNORECASE))
    shot(page, "grounded-01-reply-with-sources")
    # The conversation scrolls inside the panel: the end of the reply, where the sources are, on its own.
    sources.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "grounded-02-sources-under-the-reply.png"))

    page.reload()
    expect(page.get_by_role("list", name="Conversation")).to_have_attribute("aria-busy", "false")
    restored = page.get_by_test_id("tutor-reply").last.get_by_role("navigation", name="Sources")
    expect(restored.get_by_role("link", name=LESSON)).to_be_visible()

    restored.get_by_role("link", name=LESSON).click()
    page.get_by_role("heading", level=1, name=LESSON).wait_for()
    shot(page, "grounded-03-source-opens-the-lesson")
