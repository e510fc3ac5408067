"""GET /v1/search: hybrid results over the caller's enrolled courses, tenant isolation (PostgreSQL and
Chroma), bad input, a Chroma outage, idempotent re-indexing and the rebuild from PostgreSQL."""

# The queries in other scripts are meant to be in those scripts.
# ruff: noqa: RUF001

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text

from app.config import Settings
from app.content.loader import load_courses
from app.db.engine import Database, create_engine, owner_url
from app.db.models import ContentChunk
from app.domain.search.indexer import ContentIndexer
from app.domain.search.metrics import VECTOR_FALLBACKS
from app.domain.search.vectors import VectorIndex, VectorIndexUnavailable, collection_name
from app.server.components import components_of
from tests.support.search import catalogue, enrolled_learner, index_everything, item_slugs

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
async def indexer(settings: Settings) -> AsyncIterator[ContentIndexer]:
    db, vectors = Database.from_settings(settings), VectorIndex(settings)
    yield ContentIndexer(db, vectors)
    vectors.close()
    await db.dispose()


@pytest.fixture(scope="module")
async def orgs(client: Client, indexer: ContentIndexer, settings: Settings) -> dict[str, UUID]:
    return await index_everything(indexer, settings)


@pytest.fixture(scope="module")
async def learner(client: Client, orgs: dict[str, UUID]) -> dict[str, str]:
    return await enrolled_learner(client, "demo")


async def search(client: Client, headers: dict[str, str], **params: Any) -> Any:
    return await client.get("/v1/search", headers=headers, params=params)


async def test_search_answers_the_contract_shape_with_highlighted_snippets(
    client: Client, learner: dict[str, str]
) -> None:
    response = await search(client, learner, q="how do I store user passwords safely", limit=5)
    assert response.status_code == 200, response.text
    page = response.json()
    assert {"items", "total", "limit", "offset"} <= set(page)
    assert page["limit"] == 5
    assert page["offset"] == 0
    assert page["total"] >= len(page["items"]) > 0
    for hit in page["items"]:
        assert set(hit) == {"item_id", "course_id", "title", "snippet", "score"}
    slugs = await item_slugs(client, learner)
    top = [slugs[hit["item_id"]] for hit in page["items"][:3]]
    assert ("backend-foundations", "passwords-and-sessions") in top
    assert any("<mark>" in hit["snippet"] for hit in page["items"])
    scores = [hit["score"] for hit in page["items"]]
    assert scores == sorted(scores, reverse=True)


async def test_pages_do_not_overlap(client: Client, learner: dict[str, str]) -> None:
    first = (await search(client, learner, q="retry idempotency", limit=3)).json()
    second = (await search(client, learner, q="retry idempotency", limit=3, offset=3)).json()
    assert first["total"] == second["total"] > 3
    assert not {h["item_id"] for h in first["items"]} & {h["item_id"] for h in second["items"]}
    assert first["next"] is not None


async def test_course_filter_limits_results_and_unknown_or_unenrolled_courses_are_404(
    client: Client, learner: dict[str, str], orgs: dict[str, UUID]
) -> None:
    courses = {c["slug"]: c["id"] for c in await catalogue(client, learner)}
    only = (await search(client, learner, q="cache", course_id=courses["scalable-systems"])).json()
    assert only["items"]
    assert {h["course_id"] for h in only["items"]} == {courses["scalable-systems"]}
    for course_id in (str(uuid.uuid4()), await _acme_course(client)):
        response = await search(client, learner, q="cache", course_id=course_id)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    fresh = await member_without_courses(client)
    nothing = await search(client, fresh, q="cache")
    assert nothing.status_code == 200
    assert nothing.json()["items"] == []
    assert nothing.json()["total"] == 0
    response = await search(client, fresh, q="cache", course_id=courses["scalable-systems"])
    assert response.status_code == 404


async def _acme_course(client: Client) -> str:
    from tests.support.stack import auth_headers

    acme = await auth_headers(client, "learner@acme.test", "acme")
    return next(c["id"] for c in await catalogue(client, acme) if c["slug"] == "acme-secure-coding")


async def member_without_courses(client: Client) -> dict[str, str]:
    """A new member of demo, enrolled in nothing (the seeded accounts may be enrolled by other tests)."""
    from tests.support.accounts import bearer, new_member
    from tests.support.stack import login

    member = await new_member(client)
    return bearer(await login(client, member["email"], "demo", member["password"]))


@pytest.mark.parametrize(
    "q",
    [
        "日本語の質問",
        "Ελληνικά ερωτήματα για την κρυφή μνήμη",
        "كيف أخزن كلمات المرور",
        "' OR 1=1 --",
        '"unterminated & | ! :* <-> ( ) \\ %_',
        "-",
        "!!!",
        "a & !b | (c <-> d):*",
        "🙂" * 50,
        "the of and",
    ],
)
async def test_odd_queries_never_fail(client: Client, learner: dict[str, str], q: str) -> None:
    response = await search(client, learner, q=q)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["items"], list)


async def test_bad_queries_are_problems(client: Client, learner: dict[str, str]) -> None:
    for params in ({}, {"q": ""}, {"q": "   "}):
        response = await search(client, learner, **params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for params in ({"q": "x" * 10_240}, {"q": "a\x00b"}, {"q": "ok", "course_id": "not-a-uuid"}):
        response = await search(client, learner, **params)
        assert 400 <= response.status_code < 500, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_one_org_never_sees_another_orgs_content(
    client: Client, learner: dict[str, str], orgs: dict[str, UUID], indexer: ContentIndexer
) -> None:
    # acme-secure-coding is only in acme: its words find nothing for a demo learner.
    page = (await search(client, learner, q="path traversal in upload file names", limit=50)).json()
    demo_courses = {c["id"] for c in await catalogue(client, learner)}
    assert {h["course_id"] for h in page["items"]} <= demo_courses
    # The vector side: each org has its own collection, and a query names its org, not a collection.
    vectors = indexer.vectors
    assert collection_name(orgs["demo"]) != collection_name(orgs["acme"])
    acme_course = UUID(await _acme_course(client))
    assert await vectors.query(orgs["demo"], "path traversal", [acme_course], 10) == []
    found = await vectors.query(orgs["acme"], "path traversal", [acme_course], 10)
    assert found
    assert {h.course_id for h in found} == {acme_course}


async def test_a_chroma_outage_degrades_to_text_search(
    client: Client, learner: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = components_of(client.app).search.vectors

    async def down(*args: object, **kwargs: object) -> list[Any]:
        raise VectorIndexUnavailable("Chroma did not answer within 2.0 s")

    for call in ("nearest", "within", "query"):
        monkeypatch.setattr(vectors, call, down)
    before = VECTOR_FALLBACKS.labels(vectors.mode)._value.get()
    response = await search(client, learner, q="token bucket rate limiting")
    assert response.status_code == 200, response.text
    assert response.json()["items"]
    assert VECTOR_FALLBACKS.labels(vectors.mode)._value.get() == before + 1


async def test_reindexing_is_idempotent_and_removed_chunks_are_deleted(
    indexer: ContentIndexer, orgs: dict[str, UUID]
) -> None:
    org_id = orgs["demo"]
    course_id = (await indexer.courses_of_org(org_id))[0]
    again = await indexer.index_course(org_id, course_id)
    assert (again.added, again.removed, again.vectors_added, again.vectors_removed) == (0, 0, 0, 0)
    # A chunk whose content is gone from the course (stored in both places) is deleted from both.
    async with indexer.db.transaction(org_id) as session:
        row = (await session.scalars(select(ContentChunk).where(ContentChunk.course_id == course_id).limit(1))).one()
        session.add(
            ContentChunk(
                org_id=org_id,
                chunk_id="stale" + "0" * 35,
                course_id=course_id,
                item_id=row.item_id,
                source="lesson",
                title=row.title,
                heading="",
                position=9999,
                content="A paragraph the course no longer has.",
            )
        )
    await indexer.vectors.upsert(
        org_id,
        ["stale" + "0" * 35],
        ["A paragraph the course no longer has."],
        [{"item_id": str(row.item_id), "course_id": str(course_id), "source": "lesson"}],
    )
    report = await indexer.index_course(org_id, course_id)
    assert (report.removed, report.vectors_removed, report.added) == (1, 1, 0)
    assert "stale" + "0" * 35 not in await indexer.vectors.ids_of_course(org_id, course_id)


async def test_rebuild_refills_the_collection_from_postgresql(indexer: ContentIndexer, orgs: dict[str, UUID]) -> None:
    org_id = orgs["acme"]
    await indexer.vectors.drop(org_id)
    count = await indexer.rebuild_org(org_id)
    async with indexer.db.transaction(org_id) as session:
        stored = await session.scalar(text("select count(*) from content_chunks"))
    assert count == stored > 0
    assert await indexer.vectors.count(org_id) == stored


async def test_nothing_learners_must_not_see_is_indexed(
    client: Client, settings: Settings, orgs: dict[str, UUID]
) -> None:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            chunks = "\n".join((await conn.execute(select(ContentChunk.content))).scalars())
    finally:
        await engine.dispose()
    hidden: list[str] = []
    visible: list[str] = []  # the same line may also be in what learners see (an example in the lesson)
    for course in load_courses(settings.content_dir / "courses"):
        for module in course.modules:
            for item in module.items:
                visible.append(item.body)
                hidden += [item.solution] if item.solution else []
                if item.assessment is None:
                    continue
                spec: dict[str, Any] = item.assessment.spec()
                visible.append(str(item.assessment.learner_spec()))
                hidden += [spec.get("hidden_tests") or "", spec.get("reference_solution") or ""]
                hidden += [q.get("explanation") or "" for q in spec.get("questions") or []]
                hidden += list((spec.get("rubric") or {}).get("exemplars") or [])
    seen = "\n".join(visible)
    lines = {line.strip() for secret in hidden for line in secret.splitlines() if len(line.strip()) >= 30}
    secret_lines = [line for line in lines if line not in seen]
    assert len(secret_lines) > 20
    leaked = [line for line in secret_lines if line in chunks]
    assert not leaked, leaked[:5]


def test_the_cli_rebuilds_an_orgs_index_from_postgresql(
    settings: Settings, orgs: dict[str, UUID], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "LYCEUM_REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "LYCEUM_ENVIRONMENT": "test",
        "LYCEUM_SECRET_KEY": settings.secret_key.value,
        "LYCEUM_LOG_LEVEL": "WARNING",
    }
    env.pop("CHROMA_URL", None)
    root = Path(__file__).resolve().parents[3]

    def lyceum(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "app.cli", "index", "rebuild", *args, "--data-dir", str(tmp_path)]
        return subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False)

    done = lyceum("--org", "acme")
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"org acme: \d+ chunks indexed", done.stdout), done.stdout
    assert (tmp_path / "chroma").is_dir()
    unknown = lyceum("--org", "no-such-org")
    assert unknown.returncode != 0
    assert "no organisation 'no-such-org'" in unknown.stderr
