"""Chroma as a server (CHROMA_URL): the `chroma run` of the chromadb wheel, started here on loopback.

The index_course job runs in a worker against it, the API searches it, a collection per org keeps tenants
apart there too, and a server that goes away degrades search to full text within the timeout."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.db.engine import Database
from app.domain.search.indexer import ContentIndexer, enqueue_index_course
from app.domain.search.vectors import VectorIndex, VectorIndexUnavailable
from app.lib.jobs import create_queue
from app.server.embedded import free_port
from jobs.worker import create_worker
from tests.support.grading import app_client
from tests.support.search import enrolled_learner, org_ids
from tests.support.stack import make_settings

Client = AsyncTestClient[Litestar]


def start_chroma(path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    argv = [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return url, server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("chroma run did not answer within 60 s")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, server = start_chroma(tmp_path_factory.mktemp("chroma-server"))
    yield url
    server.terminate()
    server.wait(timeout=15)


@pytest.fixture(scope="module")
def server_settings(settings: Settings, chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(
        settings.database_url,
        settings.redis_url,
        settings.redis_key_prefix + "chroma-server:",
        tmp_path_factory.mktemp("server-mode"),
        CHROMA_URL=chroma_url,
    )


@pytest.fixture(scope="module")
async def server_client(server_settings: Settings, seeded: Any) -> AsyncIterator[Client]:
    async for client in app_client(server_settings):
        yield client


async def test_the_worker_indexes_into_the_server_and_the_api_searches_it(
    server_settings: Settings, server_client: Client
) -> None:
    orgs = await org_ids(server_settings)
    db, vectors = Database.from_settings(server_settings), VectorIndex(server_settings)
    assert vectors.mode == "server"
    queue = create_queue(server_settings)
    try:
        indexer = ContentIndexer(db, vectors)
        courses = await indexer.courses_of_org(orgs["demo"])
        worker = create_worker(server_settings, handle_signals=False)
        running = asyncio.create_task(worker.start())
        try:
            for course_id in courses:
                assert await enqueue_index_course(queue, orgs["demo"], course_id, "server-mode-test")
            deadline = time.monotonic() + 120
            indexed: list[set[str]] = []
            while time.monotonic() < deadline:
                indexed = [await vectors.ids_of_course(orgs["demo"], c) for c in courses]
                if all(indexed):
                    break
                await asyncio.sleep(0.5)
            assert all(indexed), "the worker did not index every course into the Chroma server"
        finally:
            await worker.stop()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    finally:
        await queue.disconnect()
        vectors.close()
        await db.dispose()
    learner = await enrolled_learner(server_client, "demo")
    response = await server_client.get("/v1/search", headers=learner, params={"q": "leader election terms"})
    assert response.status_code == 200, response.text
    assert response.json()["items"]


async def test_server_collections_are_per_org(server_settings: Settings) -> None:
    vectors = VectorIndex(server_settings)
    a, b, course = UUID(int=1), UUID(int=2), UUID(int=3)
    try:
        meta = {"item_id": str(UUID(int=4)), "course_id": str(course), "source": "lesson"}
        await vectors.upsert(a, ["only-in-a"], ["a passage about quorum reads"], [meta])
        assert [h.chunk_id for h in await vectors.query(a, "quorum", [course], 5)] == ["only-in-a"]
        assert await vectors.query(b, "quorum", [course], 5) == []
    finally:
        await vectors.drop(a)
        vectors.close()


async def test_an_unreachable_server_is_reported_within_the_timeout(settings: Settings, tmp_path: Path) -> None:
    down = make_settings(
        settings.database_url,
        settings.redis_url,
        settings.redis_key_prefix,
        tmp_path,
        CHROMA_URL=f"http://127.0.0.1:{free_port()}",
        LYCEUM_SEARCH_VECTOR_TIMEOUT_SECONDS="1.5",
    )
    vectors = VectorIndex(down)
    started = time.monotonic()
    try:
        with pytest.raises(VectorIndexUnavailable):
            await vectors.query(UUID(int=1), "anything", [UUID(int=2)], 5)
    finally:
        vectors.close()
    assert time.monotonic() - started < 10
