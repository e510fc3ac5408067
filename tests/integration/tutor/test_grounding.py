"""The grounded tutor (issue 12 §3): each turn retrieves passages of the learner's course, the offline tutor
answers from them, ``done`` carries ``sources``, the interaction row records the chunks, a replay and the
transcript return the same sources, and a Chroma outage or a failed retrieval never fails the turn."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from app.config import Settings
from app.db.engine import Database, create_engine, owner_url
from app.db.models import AIInteraction, ContentChunk, Course
from app.domain.search.indexer import ContentIndexer
from app.domain.search.metrics import VECTOR_FALLBACKS
from app.domain.search.services import PASSAGES_VECTOR_IN_FLIGHT, SearchService
from app.domain.search.vectors import VectorIndex, VectorIndexUnavailable
from app.domain.tutor.grounding import RETRIEVAL_FALLBACKS
from app.domain.tutor.providers.offline import LABEL_LINE
from app.lib.security.principal import Principal
from app.server.components import components_of
from tests.support.search import catalogue, enrolled_learner, index_everything

Client = AsyncTestClient[Litestar]
QUESTION = "How should I store user passwords safely?"
SOURCE_FIELDS = {"item_id", "title", "snippet", "score"}


@pytest.fixture(scope="module")
async def orgs(client: Client, settings: Settings) -> AsyncIterator[dict[str, UUID]]:
    db, vectors = Database.from_settings(settings), VectorIndex(settings)
    try:
        yield await index_everything(ContentIndexer(db, vectors), settings)
    finally:
        vectors.close()
        await db.dispose()


@pytest.fixture
async def learner(client: Client, orgs: dict[str, UUID]) -> dict[str, str]:
    return await enrolled_learner(client, "demo")  # a new learner per test: the tutor's rate limit is per user


async def course(client: Client, headers: dict[str, str], slug: str) -> dict[str, Any]:
    course_id = next(c["id"] for c in await catalogue(client, headers) if c["slug"] == slug)
    detail: dict[str, Any] = (await client.get(f"/v1/courses/{course_id}", headers=headers)).json()
    return detail


def items_of(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for module in detail["modules"] for item in module["items"]}


async def open_session(client: Client, headers: dict[str, str], course_id: str, item_id: str | None = None) -> str:
    response = await client.post(
        "/v1/tutor/sessions", headers=headers, json={"course_id": course_id, "item_id": item_id, "mode": "explain"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def ask(client: Client, headers: dict[str, str], session_id: str, text: str, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        f"/v1/tutor/sessions/{session_id}/messages", headers=headers, json={"text": text, **extra}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def done_of(answer: dict[str, Any]) -> dict[str, Any]:
    done = [e for e in answer["events"] if e["type"] == "done"]
    assert done, answer["events"]
    return done[-1]


async def recorded(settings: Settings, interaction_id: str) -> tuple[list[dict[str, Any]], int | None]:
    """The row's ``sources`` and ``latency_retrieval_ms``."""
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            query = select(AIInteraction.sources, AIInteraction.latency_retrieval_ms).where(
                AIInteraction.id == UUID(interaction_id)
            )
            sources, latency = (await conn.execute(query)).one()
            return list(sources), latency
    finally:
        await engine.dispose()


async def chunks(settings: Settings, chunk_ids: list[str]) -> dict[str, UUID]:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(ContentChunk.chunk_id, ContentChunk.item_id).where(ContentChunk.chunk_id.in_(chunk_ids))
            )
            return {chunk_id: item_id for chunk_id, item_id in rows}
    finally:
        await engine.dispose()


async def test_done_carries_sources_from_the_right_lesson_and_the_offline_tutor_answers_from_it(
    client: Client, learner: dict[str, str]
) -> None:
    detail = await course(client, learner, "backend-foundations")
    items = items_of(detail)
    # A course-wide conversation (no item): the offline tutor's only material is what retrieval found.
    session_id = await open_session(client, learner, detail["id"])
    answer = await ask(client, learner, session_id, QUESTION)
    done = done_of(answer)
    assert done["status"] == "completed"
    sources = done["sources"]
    assert 0 < len(sources) <= 3
    for source in sources:
        assert set(source) == SOURCE_FIELDS
        assert isinstance(source["score"], float)
        assert source["item_id"] in items, "a source outside the session's course"
        assert source["title"] == items[source["item_id"]]["title"]
        assert source["snippet"]
        assert "<mark>" not in source["snippet"]
    assert [s["score"] for s in sources] == sorted((s["score"] for s in sources), reverse=True)
    assert items[sources[0]["item_id"]]["slug"] == "passwords-and-sessions"
    # The offline reply is built from that lesson and names it.
    assert answer["reply"].startswith(LABEL_LINE)
    assert "Passwords, sessions and bearer tokens" in answer["reply"]


async def test_sources_come_only_from_the_sessions_course_in_the_learners_org(
    client: Client, learner: dict[str, str]
) -> None:
    # Asked in another course about this lesson's topic: the passwords lesson is not in reach.
    detail = await course(client, learner, "scalable-systems")
    items = items_of(detail)
    lesson = next(i for i in items.values() if i["kind"] == "lesson")
    session_id = await open_session(client, learner, detail["id"], lesson["id"])
    done = done_of(await ask(client, learner, session_id, "path traversal and how to store user passwords safely"))
    assert done["status"] == "completed"
    assert all(source["item_id"] in items for source in done["sources"])


async def test_passages_come_only_from_a_published_course_of_the_callers_org(
    client: Client, orgs: dict[str, UUID], settings: Settings
) -> None:
    """SearchService.passages reads only a course the caller can open in the course player: published, in
    their org. (Its own Database and VectorIndex: the app under the test client runs on another loop.)"""
    headers = await enrolled_learner(client, "demo")
    detail = await course(client, headers, "backend-foundations")
    me = (await client.get("/v1/me", headers=headers)).json()
    acme = await enrolled_learner(client, "acme")
    acme_course = next(c["id"] for c in await catalogue(client, acme) if c["slug"] == "acme-secure-coding")
    db, vectors = Database.from_settings(settings), VectorIndex(settings)
    principal = Principal(user_id=UUID(me["user_id"]), org_id=orgs["demo"], roles=frozenset({"learner"}))
    service = SearchService(db.for_tenant(principal.org_id, principal.user_id), principal, vectors=vectors)
    try:
        found = await service.passages(QUESTION, UUID(detail["id"]), 3)
        assert found.passages
        assert found.vector
        assert {p.course_id for p in found.passages} == {UUID(detail["id"])}
        # Another org's course, asked with this org's tenant (row-level security), and an unknown course.
        assert (await service.passages("path traversal", UUID(acme_course), 3)).passages == []
        assert (await service.passages(QUESTION, uuid.uuid4(), 3)).passages == []
        # An unpublished course gives none (the course player would not open it either).
        await set_published(settings, UUID(detail["id"]), False)
        try:
            assert (await service.passages(QUESTION, UUID(detail["id"]), 3)).passages == []
        finally:
            await set_published(settings, UUID(detail["id"]), True)
    finally:
        vectors.close()
        await db.dispose()


async def set_published(settings: Settings, course_id: UUID, published: bool) -> None:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(Course).where(Course.id == course_id).values(is_published=published))
    finally:
        await engine.dispose()


async def test_the_interaction_row_records_the_chunks_and_the_retrieval_time(
    client: Client, learner: dict[str, str], settings: Settings
) -> None:
    detail = await course(client, learner, "backend-foundations")
    session_id = await open_session(client, learner, detail["id"])
    done = done_of(await ask(client, learner, session_id, QUESTION))
    sources, latency = await recorded(settings, done["interaction_id"])
    assert sources
    assert [entry["item_id"] for entry in sources] == [s["item_id"] for s in done["sources"]]
    assert [entry["score"] for entry in sources] == [s["score"] for s in done["sources"]]
    assert all(set(entry) == {"chunk_id", "item_id", "score"} for entry in sources)
    stored = await chunks(settings, [entry["chunk_id"] for entry in sources])
    assert {chunk_id: str(item_id) for chunk_id, item_id in stored.items()} == {
        entry["chunk_id"]: entry["item_id"] for entry in sources
    }
    assert latency is not None
    assert latency >= 0


async def test_a_replay_and_the_transcript_return_the_same_sources(client: Client, learner: dict[str, str]) -> None:
    detail = await course(client, learner, "backend-foundations")
    session_id = await open_session(client, learner, detail["id"])
    first = done_of(await ask(client, learner, session_id, QUESTION, id="grounded-1"))
    again = done_of(await ask(client, learner, session_id, QUESTION, id="grounded-1"))
    assert again["interaction_id"] == first["interaction_id"]
    assert again["sources"] == first["sources"] != []
    transcript = (await client.get(f"/v1/tutor/sessions/{session_id}", headers=learner)).json()
    assert transcript["turns"][-1]["sources"] == first["sources"]


async def test_a_chroma_outage_grounds_on_full_text_and_never_fails_the_turn(
    client: Client, learner: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = components_of(client.app).search.vectors

    async def down(*args: object, **kwargs: object) -> list[Any]:
        raise VectorIndexUnavailable("Chroma did not answer within 2.0 s")

    for call in ("nearest", "within", "query"):
        monkeypatch.setattr(vectors, call, down)
    vector_before = VECTOR_FALLBACKS.labels(vectors.mode)._value.get()
    text_only_before = RETRIEVAL_FALLBACKS.labels("text_only")._value.get()
    detail = await course(client, learner, "backend-foundations")
    session_id = await open_session(client, learner, detail["id"])
    done = done_of(await ask(client, learner, session_id, QUESTION))
    assert done["status"] == "completed"
    assert done["sources"], "full text alone still finds the lesson"
    assert VECTOR_FALLBACKS.labels(vectors.mode)._value.get() == vector_before + 1
    assert RETRIEVAL_FALLBACKS.labels("text_only")._value.get() == text_only_before + 1


async def test_a_failed_retrieval_answers_without_sources(
    client: Client, learner: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> Any:
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(SearchService, "passages", broken)
    before = RETRIEVAL_FALLBACKS.labels("error")._value.get()
    detail = await course(client, learner, "backend-foundations")
    session_id = await open_session(client, learner, detail["id"])
    answer = await ask(client, learner, session_id, QUESTION)
    done = done_of(answer)
    assert done["status"] == "completed"
    assert done["sources"] == []
    assert answer["reply"].startswith(LABEL_LINE)
    assert RETRIEVAL_FALLBACKS.labels("error")._value.get() == before + 1


async def test_a_busy_chroma_is_not_asked_and_the_turn_grounds_on_full_text(
    client: Client, learner: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Load shedding: with Chroma calls already in flight, a turn does not queue one more (it would arrive
    after the turn stopped waiting and still slow the event loop); full text answers, counted as a fallback."""
    vectors = components_of(client.app).search.vectors
    monkeypatch.setattr(vectors, "_in_flight", PASSAGES_VECTOR_IN_FLIGHT)
    vector_before = VECTOR_FALLBACKS.labels(vectors.mode)._value.get()
    text_only_before = RETRIEVAL_FALLBACKS.labels("text_only")._value.get()
    detail = await course(client, learner, "backend-foundations")
    session_id = await open_session(client, learner, detail["id"])
    done = done_of(await ask(client, learner, session_id, QUESTION))
    assert done["status"] == "completed"
    assert done["sources"]
    assert VECTOR_FALLBACKS.labels(vectors.mode)._value.get() == vector_before + 1
    assert RETRIEVAL_FALLBACKS.labels("text_only")._value.get() == text_only_before + 1


async def test_an_item_behind_a_closed_competency_gate_is_never_a_passage(
    client: Client, learner: dict[str, str], settings: Settings, orgs: dict[str, UUID]
) -> None:
    """The HTTP quiz opens at 40% mastery of http-apis; a new learner has the prior (20%), so its text must
    not ground their tutor (the item page answers 409). Staff are never gated."""
    detail = await course(client, learner, "backend-foundations")
    quiz = next(i for i in items_of(detail).values() if i["slug"] == "http-fundamentals-quiz")
    question = "Which HTTP method is idempotent but not safe?"  # close to the quiz's first question
    me = (await client.get("/v1/me", headers=learner)).json()
    db, vectors = Database.from_settings(settings), VectorIndex(settings)
    try:
        for roles, gated in ((frozenset({"learner"}), True), (frozenset({"instructor"}), False)):
            principal = Principal(user_id=UUID(me["user_id"]), org_id=orgs["demo"], roles=roles)
            service = SearchService(db.for_tenant(principal.org_id, principal.user_id), principal, vectors=vectors)
            found = await service.passages(question, UUID(detail["id"]), 10)
            assert found.passages
            items = {str(p.item_id) for p in found.passages}
            assert (quiz["id"] in items) is not gated, (roles, items)
    finally:
        vectors.close()
        await db.dispose()
