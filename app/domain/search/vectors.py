"""The vector side of the content index: Chroma, one collection per organisation.

Embedded (``PersistentClient`` under ``<data dir>/chroma``) by default; a Chroma server (``HttpClient``)
when ``CHROMA_URL`` is set. Chroma's client is blocking: every call runs on a small thread pool, bounded
by ``LYCEUM_SEARCH_VECTOR_TIMEOUT_SECONDS`` on the query path. A collection is reached only through
:func:`collection_name` of an org id, and callers pass the org of the signed-in principal: one org's query
can never open another org's collection. ``chromadb`` (2-3 s to import) is imported on first use, so the
CLI and the API's start do not pay for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

import structlog

from app.config import Settings

log = structlog.get_logger("lyceum.search")
T = TypeVar("T")
DEFAULT_DIM = 256
BATCH = 500  # documents per Chroma write
INCLUDE: Any = ["metadatas", "distances"]  # never the documents: search reads passages from PostgreSQL
OVERFETCH = 2  # nearest chunks read per chunk wanted, before the course filter (see ``query``)


class VectorIndexUnavailable(Exception):
    """Chroma failed or did not answer in time; search falls back to full text."""


@dataclass(frozen=True, slots=True)
class VectorHit:
    chunk_id: str
    item_id: UUID
    course_id: UUID
    distance: float


def collection_name(org_id: UUID) -> str:
    return f"lyceum-org-{org_id.hex}"


# Chroma keeps one "system" per path for the whole process (a class-level registry) and building two
# clients for the same path at the same moment on different threads races inside it ("Could not connect
# to tenant default_tenant", "'RustBindingsAPI' object has no attribute 'bindings'"): every VectorIndex of
# the process (the API's, the indexer's, a test's or a benchmark's) builds its client under this lock.
_BUILD_LOCK = threading.Lock()


def build_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlsplit(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


class VectorIndex:
    """Async facade over one Chroma client (built on first use, off the event loop)."""

    def __init__(self, settings: Settings, dim: int = DEFAULT_DIM, embedding: Any = None) -> None:
        """``embedding``: another Chroma embedding function than wordllama's (the benchmark compares some)."""
        self.settings = settings
        self.timeout = settings.search_vector_timeout_seconds
        self.dim = dim
        self._embedding: Any = embedding
        self._client: Any = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chroma")
        self._in_flight = 0  # calls submitted to the pool and not finished (a timed-out call still runs)

    @property
    def mode(self) -> str:
        return "server" if self.settings.chroma_url else "embedded"

    def _client_now(self) -> Any:
        with self._lock:
            if self._client is None:
                from app.domain.search.embedding import WordLlamaEmbedding  # registers it with Chroma

                self._embedding = self._embedding or WordLlamaEmbedding(self.dim)
                with _BUILD_LOCK:
                    self._client = build_client(self.settings)
            return self._client

    def _collection(self, org_id: UUID, create: bool = True) -> Any:
        client = self._client_now()
        name = collection_name(org_id)
        if create:
            return client.get_or_create_collection(name, embedding_function=self._embedding)
        return client.get_collection(name, embedding_function=self._embedding)

    @property
    def in_flight(self) -> int:
        """Chroma calls running or queued on the pool: a caller that must stay fast (a tutor turn) asks
        nothing more when it is high, since every call holds the GIL for much of its few milliseconds and
        a timed-out call keeps running and slowing the event loop."""
        return self._in_flight

    def _finished(self, _: object) -> None:
        self._in_flight -= 1

    async def _run(self, call: Callable[[], T], limit: float | None = None) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, call)
        self._in_flight += 1
        future.add_done_callback(self._finished)  # on the loop, when the thread is done (not at the timeout)
        try:
            return await asyncio.wait_for(future, limit) if limit else await future
        except TimeoutError as exc:
            raise VectorIndexUnavailable(f"Chroma did not answer within {limit} s") from exc
        except VectorIndexUnavailable:
            raise
        except Exception as exc:
            raise VectorIndexUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def query(self, org_id: UUID, text: str, course_ids: Sequence[UUID], limit: int) -> list[VectorHit]:
        """The ``limit`` chunks nearest to ``text`` in the org's collection, within ``course_ids``.

        Chroma's metadata filter made a query 10-30x slower (72-113 ms against 3 ms at 20,000 chunks,
        docs/performance.md), so the nearest ``OVERFETCH * limit`` chunks of the whole collection are read
        (:meth:`nearest`) and filtered here; only when that leaves fewer than a quarter of ``limit`` (a
        learner enrolled in a small part of a large org) is the filtered query asked (:meth:`within`)."""
        if not course_ids:
            return []
        return await self.keep(await self.nearest(org_id, text, limit), org_id, text, course_ids, limit)

    async def keep(
        self, nearest: list[VectorHit], org_id: UUID, text: str, course_ids: Sequence[UUID], limit: int
    ) -> list[VectorHit]:
        """``nearest`` restricted to ``course_ids``, or the filtered query when too few remain."""
        allowed = set(course_ids)
        hits = [h for h in nearest if h.course_id in allowed][:limit]
        if len(hits) >= max(1, limit // 4) or not course_ids:
            return hits
        return await self.within(org_id, text, course_ids, limit)

    async def nearest(self, org_id: UUID, text: str, limit: int) -> list[VectorHit]:
        """The ``OVERFETCH * limit`` chunks of the org's collection nearest to ``text``, unfiltered."""
        return await self._search(org_id, text, OVERFETCH * limit, None)

    async def within(self, org_id: UUID, text: str, course_ids: Sequence[UUID], limit: int) -> list[VectorHit]:
        """The ``limit`` chunks nearest to ``text`` among ``course_ids`` (Chroma's metadata filter: slow)."""
        if not course_ids:
            return []
        courses = sorted({str(c) for c in course_ids})
        where: dict[str, Any] = {"course_id": courses[0]} if len(courses) == 1 else {"course_id": {"$in": courses}}
        return await self._search(org_id, text, limit, where)

    async def _search(self, org_id: UUID, text: str, limit: int, where: dict[str, Any] | None) -> list[VectorHit]:
        def call() -> list[VectorHit]:
            try:
                collection = self._collection(org_id, create=False)
            except Exception as exc:  # no collection yet: nothing indexed for this org
                if "does not exist" in str(exc) or type(exc).__name__ == "NotFoundError":
                    return []
                raise
            found = collection.query(
                query_embeddings=self._embedding.embed_query([text]), n_results=limit, where=where, include=INCLUDE
            )
            return self._hits(found)

        return await self._run(call, self.timeout)

    @staticmethod
    def _hits(found: Any) -> list[VectorHit]:
        return [
            VectorHit(cid, UUID(str(meta["item_id"])), UUID(str(meta["course_id"])), float(distance))
            for cid, meta, distance in zip(found["ids"][0], found["metadatas"][0], found["distances"][0], strict=True)
        ]

    async def ids_of_course(self, org_id: UUID, course_id: UUID) -> set[str]:
        def call() -> set[str]:
            got = self._collection(org_id).get(where={"course_id": str(course_id)}, include=[])
            return set(got["ids"])

        return await self._run(call)

    async def upsert(
        self, org_id: UUID, ids: Sequence[str], documents: Sequence[str], metadatas: Sequence[dict[str, Any]]
    ) -> None:
        def call() -> None:
            collection = self._collection(org_id)
            for start in range(0, len(ids), BATCH):
                end = start + BATCH
                collection.upsert(
                    ids=list(ids[start:end]), documents=list(documents[start:end]), metadatas=list(metadatas[start:end])
                )

        if ids:
            await self._run(call)

    async def delete(self, org_id: UUID, ids: Sequence[str]) -> None:
        def call() -> None:
            collection = self._collection(org_id)
            for start in range(0, len(ids), BATCH):
                collection.delete(ids=list(ids[start : start + BATCH]))

        if ids:
            await self._run(call)

    async def drop(self, org_id: UUID) -> None:
        def call() -> None:
            client = self._client_now()
            try:
                client.delete_collection(collection_name(org_id))
            except Exception as exc:
                if "does not exist" not in str(exc) and type(exc).__name__ != "NotFoundError":
                    raise

        await self._run(call)

    async def count(self, org_id: UUID) -> int:
        return await self._run(lambda: int(self._collection(org_id).count()))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
