"""GET /v1/courses/{id}/next and GET /v1/items/{id}/related against the real stack: the contract shapes,
at most three steps, locked and done items left out, the tutor-question reason, the empty state, 404s
(unknown, another org's, not enrolled) and the text-only answer when Chroma is down."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, insert, select

from app.config import Settings
from app.db.engine import Database, create_engine, owner_url
from app.db.models import Enrollment, ProgressEvent
from app.domain.search.indexer import ContentIndexer
from app.domain.search.metrics import VECTOR_FALLBACKS
from app.domain.search.vectors import VectorIndex, VectorIndexUnavailable
from app.server.components import components_of
from tests.support.search import catalogue, enrolled_learner, index_everything
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
async def orgs(client: Client, settings: Settings) -> AsyncIterator[dict[str, UUID]]:
    db, vectors = Database.from_settings(settings), VectorIndex(settings)
    yield await index_everything(ContentIndexer(db, vectors), settings)
    vectors.close()
    await db.dispose()


@pytest.fixture
async def learner(client: Client, orgs: dict[str, UUID]) -> dict[str, str]:
    """A new demo learner enrolled in every demo course, nothing done yet."""
    return await enrolled_learner(client, "demo")


async def outline(client: Client, headers: dict[str, str], slug: str) -> dict[str, Any]:
    course = next(c for c in await catalogue(client, headers) if c["slug"] == slug)
    detail: dict[str, Any] = (await client.get(f"/v1/courses/{course['id']}", headers=headers)).json()
    detail["by_slug"] = {i["slug"]: i for m in detail["modules"] for i in m["items"]}
    return detail


async def complete(client: Client, headers: dict[str, str], course: dict[str, Any], *slugs: str) -> None:
    for slug in slugs:
        done = await client.post(
            f"/v1/courses/{course['id']}/items/{course['by_slug'][slug]['id']}/completion", headers=headers
        )
        assert done.status_code in (200, 201), done.text


async def next_steps(client: Client, headers: dict[str, str], course_id: str) -> Any:
    return await client.get(f"/v1/courses/{course_id}/next", headers=headers)


async def test_next_answers_the_pathway_with_reasons_and_never_a_locked_or_done_item(
    client: Client, learner: dict[str, str]
) -> None:
    course = await outline(client, learner, "scalable-systems")
    fresh = (await next_steps(client, learner, course["id"])).json()
    assert fresh == {
        "items": [
            {
                "item_id": course["by_slug"]["caching-fundamentals"]["id"],
                "title": course["by_slug"]["caching-fundamentals"]["title"],
                "reason": "Next in the pathway",
            }
        ]
    }
    await complete(client, learner, course, "caching-fundamentals", "invalidation-and-stampedes")
    response = await next_steps(client, learner, course["id"])
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert 1 <= len(items) <= 3
    for step in items:
        assert set(step) == {"item_id", "title", "reason"}
        assert step["reason"]
    progress = (await client.get(f"/v1/courses/{course['id']}/progress", headers=learner)).json()
    states = {p["item_id"]: p["state"] for p in progress["items"]}
    assert all(states[step["item_id"]] == "unlocked" for step in items), (items, states)
    assert items[0]["item_id"] == progress["next_item_id"]
    assert [s["item_id"] for s in items] == [
        course["by_slug"][slug]["id"] for slug in ("cache-a-product-page", "caching-quiz")
    ]


async def test_a_recent_tutor_question_gives_its_reason(client: Client, learner: dict[str, str]) -> None:
    course = await outline(client, learner, "scalable-systems")
    await complete(client, learner, course, "caching-fundamentals")
    session = await client.post("/v1/tutor/sessions", headers=learner, json={"course_id": course["id"]})
    assert session.status_code == 201, session.text
    answer = await client.post(
        f"/v1/tutor/sessions/{session.json()['id']}/messages",
        headers=learner,
        json={"text": "How do I stop a cache stampede when a hot key expires? Many requests hit the database."},
    )
    assert answer.status_code in (200, 201), answer.text
    items = (await next_steps(client, learner, course["id"])).json()["items"]
    assert items[0]["item_id"] == course["by_slug"]["invalidation-and-stampedes"]["id"]
    assert items[0]["reason"] == ("You asked about *How do I stop a cache stampede when…*; this lesson covers it")


async def test_everything_done_is_an_empty_list(client: Client, learner: dict[str, str], settings: Settings) -> None:
    course = await outline(client, learner, "distributed-systems-lab")
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            enrollment = (
                await conn.execute(
                    select(Enrollment.id, Enrollment.org_id, Enrollment.user_id).where(
                        Enrollment.id == UUID(course["enrollment"]["id"])
                    )
                )
            ).one()
            last = await conn.scalar(
                select(func.coalesce(func.max(ProgressEvent.version), 0)).where(
                    ProgressEvent.stream_id == enrollment.id
                )
            )
            # Assessments complete only by passing (a grading job): the ledger rows say so directly.
            await conn.execute(
                insert(ProgressEvent),
                [
                    {
                        "org_id": enrollment.org_id,
                        "stream_id": enrollment.id,
                        "version": n,
                        "type": "item.completed" if item["kind"] != "assessment" else "assessment.passed",
                        "user_id": enrollment.user_id,
                        "course_id": UUID(course["id"]),
                        "payload": {"item_id": item["id"]},
                        "idempotency_key": f"test-done:{enrollment.id}:{item['id']}",
                    }
                    for n, item in enumerate(course["by_slug"].values(), start=int(last or 0) + 1)
                ],
            )
    finally:
        await engine.dispose()
    response = await next_steps(client, learner, course["id"])
    assert response.status_code == 200, response.text
    assert response.json() == {"items": []}


async def _acme_course_and_item(client: Client) -> tuple[str, str]:
    acme = await auth_headers(client, "learner@acme.test", "acme")
    course = next(c for c in await catalogue(client, acme) if c["slug"] == "acme-secure-coding")
    detail = (await client.get(f"/v1/courses/{course['id']}", headers=acme)).json()
    return course["id"], detail["modules"][0]["items"][0]["id"]


async def _unenrolled(client: Client) -> dict[str, str]:
    from tests.support.accounts import bearer, new_member
    from tests.support.stack import login

    member = await new_member(client)
    return bearer(await login(client, member["email"], "demo", member["password"]))


async def test_next_is_404_for_unknown_other_org_and_unenrolled_courses(
    client: Client, learner: dict[str, str]
) -> None:
    acme_course, _ = await _acme_course_and_item(client)
    course = await outline(client, learner, "backend-foundations")
    stranger = await _unenrolled(client)
    for headers, course_id in ((learner, str(uuid.uuid4())), (learner, acme_course), (stranger, course["id"])):
        response = await next_steps(client, headers, course_id)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
    assert (await client.get("/v1/courses/not-a-uuid/next", headers=learner)).status_code in (400, 404)


async def related(client: Client, headers: dict[str, str], item_id: str) -> Any:
    return await client.get(f"/v1/items/{item_id}/related", headers=headers)


async def test_related_items_by_meaning_across_the_learners_courses(client: Client, learner: dict[str, str]) -> None:
    lab = await outline(client, learner, "distributed-systems-lab")
    item = lab["by_slug"]["idempotency-and-outbox"]
    response = await related(client, learner, item["id"])
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert 1 <= len(items) <= 5
    for hit in items:
        assert set(hit) == {"item_id", "course_id", "title", "score"}
    assert item["id"] not in {h["item_id"] for h in items}
    enrolled = {c["id"] for c in await catalogue(client, learner)}
    assert {h["course_id"] for h in items} <= enrolled
    assert len({h["course_id"] for h in items}) > 1  # across courses, not only the item's own
    scores = [h["score"] for h in items]
    assert scores == sorted(scores, reverse=True)


async def test_related_is_404_for_unknown_other_org_and_unenrolled_items(
    client: Client, learner: dict[str, str]
) -> None:
    _, acme_item = await _acme_course_and_item(client)
    course = await outline(client, learner, "backend-foundations")
    stranger = await _unenrolled(client)
    own_item = course["by_slug"]["http-request-lifecycle"]["id"]
    for headers, item_id in ((learner, str(uuid.uuid4())), (learner, acme_item), (stranger, own_item)):
        response = await related(client, headers, item_id)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_related_falls_back_to_text_when_chroma_is_down(
    client: Client, learner: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = components_of(client.app).search.vectors

    async def down(*args: object, **kwargs: object) -> list[Any]:
        raise VectorIndexUnavailable("Chroma did not answer within 2.0 s")

    for call in ("nearest", "within", "query"):
        monkeypatch.setattr(vectors, call, down)
    course = await outline(client, learner, "scalable-systems")
    before = VECTOR_FALLBACKS.labels(vectors.mode)._value.get()
    response = await related(client, learner, course["by_slug"]["token-bucket-limiter"]["id"])
    assert response.status_code == 200, response.text
    assert response.json()["items"]
    assert VECTOR_FALLBACKS.labels(vectors.mode)._value.get() == before + 1
