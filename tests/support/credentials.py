"""Credentials in tests: a small course (one lesson, one quiz) loaded into an org as the seed loads courses,
a learner who completes it through the API and the real grading job, and waits on the credential."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.content.loader import load_course
from app.db.engine import create_engine, owner_url
from app.db.models import Organization
from app.seed import _clear_course_cache, _seed_course
from tests.support.grading import Client, wait_for

COURSE_YAML = """\
slug: {slug}
title: {title}
summary: A two-step course that ends in a credential.
level: beginner
tags: [testing]
credential:
  criteria: |
    Read the lesson on idempotent consumers and passed the quiz on them.
  valid_for_days: 30
competencies:
  - slug: idempotency
    name: Idempotent consumers
    description: Makes handlers safe to run twice.
modules:
  - slug: only-module
    title: The only module
    items:
      - slug: read-this
        kind: lesson
        title: Idempotent consumers
        bloom_level: understand
        competencies: [idempotency]
        body: A consumer that records what it has done can safely see a message twice.
      - slug: quiz
        kind: assessment
        title: Quiz
        bloom_level: apply
        prerequisites: [read-this]
        competencies: [idempotency]
        body: Two questions.
        assessment:
          type: multiple_choice
          objectives: [Recognise idempotent handling]
          questions:
            - prompt: A message is delivered twice. What keeps the effect single?
              options: [A dedup key recorded with the effect, A faster broker]
              answer: 0
            - prompt: Where is the dedup key stored?
              options: [In memory only, In the same transaction as the effect]
              answer: 1
"""
ANSWERS = [0, 1]


async def load_small_course(settings: Settings, org_slug: str, slug: str, title: str, tmp: Path) -> None:
    """The course as ``lyceum seed`` loads a file (the same ``_seed_course``), into ``org_slug``."""
    path = tmp / f"{slug}.yaml"
    path.write_text(COURSE_YAML.format(slug=slug, title=title), encoding="utf-8")
    course = load_course(path)
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            org_id = (await conn.execute(select(Organization.id).where(Organization.slug == org_slug))).scalar_one()
            await _seed_course(conn, org_id, course, tmp)
    finally:
        await engine.dispose()
    await _clear_course_cache(settings)


async def course_outline(client: Client, headers: dict[str, str], slug: str) -> dict[str, Any]:
    courses = (await client.get("/v1/courses", headers=headers, params={"limit": 100})).json()["items"]
    course_id = next(c["id"] for c in courses if c["slug"] == slug)
    outline: dict[str, Any] = (await client.get(f"/v1/courses/{course_id}", headers=headers)).json()
    return outline


async def complete_small_course(client: Client, headers: dict[str, str], slug: str) -> dict[str, Any]:
    """Enrol, complete the lesson (API), pass the quiz (an API submission, graded exactly in the request,
    or by the worker's ``grade_submission`` job when that failed). Returns the outline."""
    outline = await course_outline(client, headers, slug)
    enrolled = await client.post(f"/v1/courses/{outline['id']}/enrollments", headers=headers)
    assert enrolled.status_code in (200, 201), enrolled.text
    items = {i["slug"]: i for m in outline["modules"] for i in m["items"]}
    done = await client.post(
        f"/v1/courses/{outline['id']}/items/{items['read-this']['id']}/completion", headers=headers
    )
    assert done.status_code in (200, 201), done.text
    quiz = (await client.get(f"/v1/items/{items['quiz']['id']}/assessment", headers=headers)).json()
    accepted = await client.post(
        f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json={"choices": ANSWERS}
    )
    assert accepted.status_code == 202, accepted.text
    graded = await wait_for(client, headers, accepted.json()["id"], "graded")
    assert graded["passed"] is True
    return outline


async def wait_for_credentials(
    client: Client, headers: dict[str, str], count: int = 1, deadline_s: float = 90
) -> list[dict[str, Any]]:
    """Poll ``GET /v1/me/credentials`` until it lists ``count``; the deadline only bounds a failing test."""
    deadline = time.monotonic() + deadline_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = (await client.get("/v1/me/credentials", headers=headers)).json()
        if body.get("total", 0) >= count:
            items: list[dict[str, Any]] = body["items"]
            return items
        await asyncio.sleep(0.1)
    raise AssertionError(f"no credential after {deadline_s}s: {body}")


async def enrollment_of(session: AsyncSession, user_id: uuid.UUID, course_id: uuid.UUID) -> uuid.UUID:
    row = await session.scalar(
        text("select id from enrollments where user_id = :u and course_id = :c"), {"u": user_id, "c": course_id}
    )
    assert row is not None
    return uuid.UUID(str(row))
