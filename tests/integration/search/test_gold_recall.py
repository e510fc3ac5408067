"""The gold set through GET /v1/search: hybrid recall@5 of at least 0.85 (figures per method in
docs/decisions/0010-embeddings-for-search.md, printed by benchmarks/recommendations.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.db.engine import Database
from app.domain.search.evaluation import load_gold, quality
from app.domain.search.indexer import ContentIndexer
from app.domain.search.vectors import VectorIndex
from tests.support.search import enrolled_learner, index_everything, item_slugs

Client = AsyncTestClient[Litestar]
GOLD = Path(__file__).resolve().parents[2] / "recommendations" / "gold.yaml"


@pytest.fixture(scope="module")
async def indexed(settings: Settings, client: Client) -> AsyncIterator[None]:
    db, vectors = Database.from_settings(settings), VectorIndex(settings)
    await index_everything(ContentIndexer(db, vectors), settings)
    yield
    vectors.close()
    await db.dispose()


def test_the_gold_set_has_at_least_80_questions_over_every_demo_course() -> None:
    questions = load_gold(GOLD)
    assert len(questions) >= 80
    courses = {course for q in questions for course, _ in q.items}
    assert courses == {p.stem for p in (GOLD.parents[2] / "content" / "courses").glob("*.yaml")}


async def test_hybrid_recall_at_5_is_at_least_085(client: Client, indexed: None) -> None:
    questions = load_gold(GOLD)
    learners = {org: await enrolled_learner(client, org) for org in ("demo", "acme")}
    slugs = {org: await item_slugs(client, headers) for org, headers in learners.items()}
    rankings = []
    for question in questions:
        response = await client.get("/v1/search", headers=learners[question.org], params={"q": question.q, "limit": 10})
        assert response.status_code == 200, response.text
        rankings.append([slugs[question.org][hit["item_id"]] for hit in response.json()["items"]])
    measured = quality(questions, rankings)
    assert measured.recall5 >= 0.85, str(measured)
