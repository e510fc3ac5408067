"""Keeps an org's content index in step with its courses: chunks in PostgreSQL (``content_chunks``, full
text) and the same chunks in the org's Chroma collection (vectors).

Chunk ids are content hashes: indexing a course again writes only new chunks and deletes the ones that
are gone, in both stores; unchanged content costs a read. Runs in the worker (``index_course``, enqueued
by ``lyceum seed``) and in ``lyceum index rebuild``; never on a request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

import structlog
from saq import Queue
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from app.content.schema import learner_view
from app.db.engine import Database
from app.db.models import Assessment, ContentChunk, Course, CourseModule, DeadLetter, Item
from app.domain.search.chunking import Chunk, ChunkPolicy, Source, assessment_prompts, chunk_sources
from app.domain.search.vectors import VectorIndex

log = structlog.get_logger("lyceum.search")


@dataclass(frozen=True, slots=True)
class IndexReport:
    chunks: int
    added: int
    removed: int
    vectors_added: int
    vectors_removed: int
    seconds: float


def index_job_key(course_id: UUID, content_hash: str) -> str:
    """One job per course version: a second enqueue of the same version while one is queued is refused."""
    return f"index:{course_id}:{content_hash[:16]}"


async def enqueue_index_course(queue: Queue, org_id: UUID, course_id: UUID, content_hash: str) -> bool:
    job = await queue.enqueue(
        "index_course",
        key=index_job_key(course_id, content_hash),
        org_id=str(org_id),
        course_id=str(course_id),
        timeout=600,
        retries=3,
    )
    return job is not None


def course_sources(
    course_id: UUID, modules: Sequence[Any], items: Sequence[Any], specs: dict[UUID, Any]
) -> list[Source]:
    """What learners see of a course, as chunk sources: item bodies, assessment prompts, module summaries
    (a module summary leads to the module's first item)."""
    sources: list[Source] = []
    first_item: dict[UUID, UUID] = {}
    for item in items:
        first_item.setdefault(item.module_id, item.id)
        sources.append(Source(course_id, item.id, item.kind, item.title, item.body))
        if item.id in specs:
            for prompt in assessment_prompts(learner_view(specs[item.id])):
                sources.append(Source(course_id, item.id, "prompt", item.title, prompt))
    for module in modules:
        if module.summary and module.id in first_item:
            title = next(i.title for i in items if i.id == first_item[module.id])
            sources.append(Source(course_id, first_item[module.id], "module", title, module.summary, module.title))
    return sources


def _metadata(chunk: Chunk | Any) -> dict[str, Any]:
    return {"item_id": str(chunk.item_id), "course_id": str(chunk.course_id), "source": chunk.source}


def _document(row: Any) -> str:
    return Chunk(
        row.chunk_id, row.course_id, row.item_id, row.source, row.title, row.heading, row.position, row.content
    ).document()


class ContentIndexer:
    def __init__(self, db: Database, vectors: VectorIndex, policy: ChunkPolicy | None = None) -> None:
        self.db = db
        self.vectors = vectors
        self.policy = policy or ChunkPolicy()

    async def index_course(self, org_id: UUID, course_id: UUID) -> IndexReport:
        started = time.perf_counter()
        async with self.db.for_tenant(org_id).transaction() as session:
            course = await session.get(Course, course_id)
            chunks: list[Chunk] = []
            if course is not None and course.is_published:
                modules = list(
                    await session.scalars(
                        select(CourseModule).where(CourseModule.course_id == course_id).order_by(CourseModule.position)
                    )
                )
                items = list(
                    await session.scalars(select(Item).where(Item.course_id == course_id).order_by(Item.position))
                )
                specs: dict[UUID, Any] = dict(
                    (
                        await session.execute(
                            select(Assessment.item_id, Assessment.spec).where(Assessment.course_id == course_id)
                        )
                    )
                    .tuples()
                    .all()
                )
                chunks = chunk_sources(course_sources(course_id, modules, items, specs), self.policy)
            wanted = {c.chunk_id: c for c in chunks}
            stored = set(
                await session.scalars(select(ContentChunk.chunk_id).where(ContentChunk.course_id == course_id))
            )
            gone = sorted(stored - set(wanted))
            if gone:
                await session.execute(
                    delete(ContentChunk).where(ContentChunk.course_id == course_id, ContentChunk.chunk_id.in_(gone))
                )
            new = [wanted[cid] for cid in wanted if cid not in stored]
            if new:
                await session.execute(
                    insert(ContentChunk)
                    .values(
                        [
                            {
                                "org_id": org_id,
                                "chunk_id": c.chunk_id,
                                "course_id": c.course_id,
                                "item_id": c.item_id,
                                "source": c.source,
                                "title": c.title[:200],
                                "heading": c.heading[:300],
                                "position": c.position,
                                "content": c.content,
                            }
                            for c in new
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["org_id", "chunk_id"])
                )
        # PostgreSQL is the record; Chroma follows it (and is rebuilt from it by `lyceum index rebuild`).
        in_chroma = await self.vectors.ids_of_course(org_id, course_id)
        stale = sorted(in_chroma - set(wanted))
        missing = [c for cid, c in wanted.items() if cid not in in_chroma]
        await self.vectors.delete(org_id, stale)
        await self.vectors.upsert(
            org_id, [c.chunk_id for c in missing], [c.document() for c in missing], [_metadata(c) for c in missing]
        )
        report = IndexReport(
            len(wanted), len(new), len(gone), len(missing), len(stale), round(time.perf_counter() - started, 3)
        )
        log.info("course_indexed", org_id=str(org_id), course_id=str(course_id), **asdict(report))
        return report

    async def rebuild_org(self, org_id: UUID) -> int:
        """Drop the org's Chroma collection and fill it again from ``content_chunks``; returns the count."""
        async with self.db.for_tenant(org_id).transaction() as session:
            rows = (await session.execute(select(ContentChunk).order_by(ContentChunk.position))).scalars().all()
        await self.vectors.drop(org_id)
        await self.vectors.upsert(
            org_id, [r.chunk_id for r in rows], [_document(r) for r in rows], [_metadata(r) for r in rows]
        )
        return len(rows)

    async def dead_letter(self, org_id: UUID, course_id: UUID, job_key: str, attempts: int, reason: str) -> None:
        """Indexing failed for good: keep the job for admins (the dead-letter list); search keeps serving
        the previous index, and `lyceum index rebuild` or the next enqueue repairs it."""
        async with self.db.for_tenant(org_id).transaction() as session:
            session.add(
                DeadLetter(
                    org_id=org_id,
                    job_key=job_key,
                    function="index_course",
                    submission_id=None,
                    attempts=attempts,
                    reason=reason[:2000],
                    payload={"course_id": str(course_id)},
                )
            )

    async def courses_of_org(self, org_id: UUID) -> list[UUID]:
        async with self.db.for_tenant(org_id).transaction() as session:
            return list(await session.scalars(select(Course.id).where(Course.is_published.is_(True))))
