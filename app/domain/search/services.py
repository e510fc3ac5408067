"""Hybrid search over the caller's enrolled courses: Chroma's nearest chunks fused with PostgreSQL full
text (``websearch_to_tsquery``, which accepts any input, operators included; its words OR-ed, see
``any_words``) by reciprocal rank fusion.

Both lists are first reduced to items (an item ranks where its best chunk ranks), then fused:
``score(item) = sum over lists of 1 / (RRF_K + rank)``. When Chroma fails or is slower than
``LYCEUM_SEARCH_VECTOR_TIMEOUT_SECONDS`` the answer is the text ranking alone (a metric and a log line,
never an error). The snippet is the best matching passage, highlighted by ``ts_headline``.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import structlog
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.dialects.postgresql import REGCONFIG, TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ContentChunk, Course, Enrollment, Item
from app.domain.base import TenantService
from app.domain.mastery.gates import gated_items
from app.domain.search.metrics import SEARCH_LATENCY, VECTOR_FALLBACKS
from app.domain.search.schemas import Passage, Passages, SearchHit
from app.domain.search.vectors import VectorHit, VectorIndex, VectorIndexUnavailable
from app.lib.errors import NotFound, ValidationFailed

log = structlog.get_logger("lyceum.search")

Mode = Literal["hybrid", "vector", "text"]
RRF_K = 60
MAX_QUERY_CHARS = 500
TEXT_SCAN = 1000  # matching passages ranked per text search at most (see ``_text_hits``)
TEXT_CONFIG = literal("english", type_=REGCONFIG)
# Chroma calls in flight above which a tutor turn's retrieval does not ask Chroma and grounds on full text:
# under load, queued Chroma work only arrives after the turn stopped waiting and still competes for the GIL
# (tutor_stream.py --grounding at 20 concurrent turns: first tokens 240 ms later without this bound).
PASSAGES_VECTOR_IN_FLIGHT = 2
# Chunks a tutor turn's vector side contributes (Chroma reads twice as many): its three passages come from
# the top of the fusion, and Chroma answers 20 nearest in 0.8 ms against 1.8 ms for the search's 100.
PASSAGES_CANDIDATES = 10
# Highlights are marked with control characters no chunk contains (chunking replaces them), so the passage
# can be HTML-escaped first and the marks turned into <mark> after.
_START, _STOP = "\x02", "\x03"
HEADLINE_OPTIONS = (
    f'StartSel={_START}, StopSel={_STOP}, MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=" … "'
)


@dataclass(slots=True)
class Ranked:
    item_id: UUID
    course_id: UUID
    score: float = 0.0
    text_chunk: str | None = None  # best chunk by full text, then by vector: the snippet's passage
    vector_chunk: str | None = None
    ranks: dict[str, int] = field(default_factory=dict)

    @property
    def chunk(self) -> str | None:
        return self.text_chunk or self.vector_chunk


def _item_order(hits: Sequence[tuple[str, UUID, UUID]]) -> list[tuple[UUID, UUID, str]]:
    """Chunk hits (best first) reduced to items, each at the rank of its best chunk."""
    seen: dict[UUID, tuple[UUID, UUID, str]] = {}
    for chunk_id, item_id, course_id in hits:
        seen.setdefault(item_id, (item_id, course_id, chunk_id))
    return list(seen.values())


def fuse(text_hits: Sequence[tuple[str, UUID, UUID]], vector_hits: Sequence[tuple[str, UUID, UUID]]) -> list[Ranked]:
    """Reciprocal rank fusion of two chunk rankings, at item level; best first (ties: text rank, then id)."""
    ranked: dict[UUID, Ranked] = {}
    for name, hits in (("text", text_hits), ("vector", vector_hits)):
        for rank, (item_id, course_id, chunk_id) in enumerate(_item_order(hits), start=1):
            entry = ranked.setdefault(item_id, Ranked(item_id, course_id))
            entry.score += 1.0 / (RRF_K + rank)
            entry.ranks[name] = rank
            if name == "text":
                entry.text_chunk = chunk_id
            else:
                entry.vector_chunk = chunk_id
    return sorted(ranked.values(), key=lambda r: (-r.score, r.ranks.get("text", 10**6), str(r.item_id)))


async def _nothing(value: list[tuple[str, UUID, UUID]]) -> list[tuple[str, UUID, UUID]]:
    return value


def any_words(text: str) -> Any:
    """``websearch_to_tsquery`` (any input is safe: quotes make phrases, ``-`` negates, ``or`` alternates,
    everything else is a word) with its AND turned into OR: a learner's question rarely has every word in
    one passage, and ``ts_rank`` still ranks passages with more of the words (and title words) first.
    Its text form quotes every lexeme and lexemes hold no spaces, so only operators are replaced.

    Built as a scalar subquery, so PostgreSQL computes it once per statement (an InitPlan), not once per
    row as it may for an expression over parameters in a generic prepared plan."""
    strict = cast(func.websearch_to_tsquery(TEXT_CONFIG, text), String)
    return select(cast(func.replace(strict, " & ", " | "), TSQUERY)).scalar_subquery()


def normalise_query(q: str | None) -> str:
    text = " ".join((q or "").split())
    if not text:
        raise ValidationFailed("q must not be empty", errors=[{"parameter": "q", "detail": "must not be empty"}])
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationFailed(
            f"q must be at most {MAX_QUERY_CHARS} characters",
            errors=[{"parameter": "q", "detail": f"at most {MAX_QUERY_CHARS} characters"}],
        )
    return text


@dataclass(eq=False, repr=False, kw_only=True)
class SearchService(TenantService):
    """Searches the caller's org's content index; holds the tenant database and the vector index."""

    vectors: VectorIndex
    candidates: int = 50

    async def search(self, q: str | None, course_id: UUID | None, page: LimitOffset) -> OffsetPagination[SearchHit]:
        """One page of items matching ``q`` in the caller's enrolled courses (or one of them: an unknown
        course, or one the caller is not enrolled in, is a 404 like any course outside their reach)."""
        text = normalise_query(q)
        started = time.perf_counter()
        # Chroma's nearest chunks are asked for at once, unfiltered, on its thread pool, while one
        # transaction reads the caller's courses and runs the text search; the courses then filter them.
        nearest = asyncio.ensure_future(self._nearest(text))
        try:
            async with self._tx() as session:
                courses = await self._enrolled(session, course_id)
                text_hits = await self._text_hits(session, text, courses) if courses else []
        except BaseException:
            nearest.cancel()
            raise
        SEARCH_LATENCY.labels("text").observe(time.perf_counter() - started)
        vector_hits = (await self._vector_hits(text, courses, nearest) or []) if courses else []
        if not courses:
            nearest.cancel()
        ranked = fuse(text_hits, vector_hits)
        window = ranked[page.offset : page.offset + page.limit]
        hits = await self._hits(text, window) if window else []
        SEARCH_LATENCY.labels("total").observe(time.perf_counter() - started)
        return OffsetPagination(items=hits, limit=page.limit, offset=page.offset, total=len(ranked))

    async def enrolled_courses(self) -> list[UUID]:
        """The caller's enrolments in published courses (active or completed): the courses search reads,
        and so the courses related items may come from."""
        async with self._tx() as session:
            return await self._enrolled(session, None)

    async def _enrolled(self, session: AsyncSession, course_id: UUID | None) -> list[UUID]:
        query = (
            select(Enrollment.course_id)
            .join(Course, Course.id == Enrollment.course_id)
            .where(
                Enrollment.user_id == self.principal.user_id,
                Enrollment.status != "withdrawn",
                Course.is_published.is_(True),
            )
        )
        if course_id is not None:
            query = query.where(Enrollment.course_id == course_id)
        courses = list(await session.scalars(query))
        if course_id is not None and not courses:
            raise NotFound("No such course among your enrolments")
        return courses

    async def rank(self, text: str, courses: Sequence[UUID], mode: Mode = "hybrid") -> list[Ranked]:
        """Items of ``courses`` for ``text``, best first: fused (hybrid), or one list alone."""
        if not courses:
            return []
        # The two searches run at once: Chroma on its thread pool, PostgreSQL on the loop.
        none: list[tuple[str, UUID, UUID]] = []
        vector_hits, text_hits = await asyncio.gather(
            self._vector_hits(text, courses) if mode != "text" else _nothing(none),
            self._text_search(text, courses) if mode != "vector" else _nothing(none),
        )
        return fuse(text_hits, vector_hits or [])

    async def passages(self, text: str, course_id: UUID, limit: int, vector_timeout: float | None = None) -> Passages:
        """The best ``limit`` passages of ``course_id`` for ``text``, for grounding the tutor: the ranking of
        :meth:`search` (the same two rankings, the same fusion), one passage per item (its best chunk), best
        first, each with its full text and a plain-text snippet around the question's words.

        Items behind a competency gate the caller has not met are left out (staff are never gated).
        The course must be one the caller can read: published, in their org (row-level security). That is
        the course player's rule and the tutor's own (a tutor session needs a published course, not an
        enrolment), so a learner browsing a course gets the sources the player would show them; an
        unpublished course, or another org's, gives none.

        Chroma failing, or not done within ``vector_timeout`` seconds of the call, gives the text ranking
        alone (``vector`` False, the search's fallback metric and log line), never an error.

        Built for a tutor turn's time to first token: Chroma is asked first (on its thread pool) while ONE
        transaction checks the course and reads each matching item's best chunk with its text, so the
        passages need no second round trip unless an item was found by meaning alone."""
        text = " ".join(text.split())[:MAX_QUERY_CHARS]
        if not text or limit <= 0:
            return Passages(passages=[])
        started = time.perf_counter()
        if self.vectors.in_flight >= PASSAGES_VECTOR_IN_FLIGHT:
            busy = VectorIndexUnavailable(f"{self.vectors.in_flight} Chroma calls in flight")
            nearest: asyncio.Future[list[VectorHit] | VectorIndexUnavailable] = (
                asyncio.get_running_loop().create_future()
            )
            nearest.set_result(busy)  # reported (metric, log line) by _vector_hits, as any outage
        else:
            nearest = asyncio.ensure_future(self._nearest(text, PASSAGES_CANDIDATES))
        try:
            async with self._tx() as session:
                rows = await self._best_text_chunks(session, text, course_id)
                readable = bool(rows) or bool(
                    await session.scalar(select(Course.id).where(Course.id == course_id, Course.is_published.is_(True)))
                )
                # Items behind a competency gate the learner has not met stay closed here too: their text
                # must not reach the learner through the tutor before the item page would open.
                closed = (
                    set() if self.principal.is_staff else await gated_items(session, self.principal.user_id, course_id)
                )
        except BaseException:
            nearest.cancel()
            raise
        if not readable:
            nearest.cancel()
            return Passages(passages=[])
        SEARCH_LATENCY.labels("text").observe(time.perf_counter() - started)
        rows = [row for row in rows if row.item_id not in closed]
        text_hits = [(row.chunk_id, row.item_id, row.course_id) for row in rows]
        vector_hits = await self._bounded_vector_hits(
            text, [course_id], nearest, vector_timeout, started, PASSAGES_CANDIDATES
        )
        if vector_hits and closed:
            vector_hits = [hit for hit in vector_hits if hit[1] not in closed]
        window = fuse(text_hits, vector_hits or [])[:limit]
        chunks: dict[str, Any] = {row.chunk_id: row for row in rows}
        missing = [r.chunk for r in window if r.chunk and r.chunk not in chunks]
        if missing:  # items found by meaning alone: their chunks' text
            async with self._tx() as session:
                found = await session.execute(select(*_PASSAGE_COLUMNS).where(ContentChunk.chunk_id.in_(missing)))
                chunks.update({row.chunk_id: row for row in found})
        passages = []
        for r in window:
            row = chunks.get(r.chunk or "")
            if row is None:
                continue  # re-indexed since Chroma answered
            passages.append(
                Passage(
                    chunk_id=row.chunk_id,
                    item_id=r.item_id,
                    course_id=r.course_id,
                    title=row.title,
                    heading=row.heading,
                    content=row.content,
                    snippet=plain_snippet(row.content, text),
                    score=r.score,
                    source=row.source,
                )
            )
        return Passages(passages=passages, vector=vector_hits is not None)

    async def _best_text_chunks(self, session: AsyncSession, text: str, course_id: UUID) -> list[Any]:
        """Each matching item's best chunk by full text (``ts_rank``, as in :meth:`_text_hits`), with its
        text, best first; only from ``course_id`` when it is published (one statement)."""
        query = any_words(text)
        matches = (
            select(*_PASSAGE_COLUMNS, ContentChunk.course_id, ContentChunk.tsv)
            .join(Course, Course.id == ContentChunk.course_id)
            .where(
                ContentChunk.course_id == course_id,
                Course.is_published.is_(True),
                ContentChunk.tsv.op("@@")(query),
            )
            .limit(TEXT_SCAN)
            .subquery()
        )
        rank = func.ts_rank(matches.c.tsv, query)
        best = (
            select(*(c for c in matches.c if c.name != "tsv"), rank.label("rank"))
            .distinct(matches.c.item_id)
            .order_by(matches.c.item_id, rank.desc(), matches.c.chunk_id)
        )
        rows = list((await session.execute(best)).all())
        rows.sort(key=lambda row: (-row.rank, row.chunk_id))
        return rows[: self.candidates]

    async def _bounded_vector_hits(
        self,
        text: str,
        courses: Sequence[UUID],
        nearest: Awaitable[list[VectorHit] | VectorIndexUnavailable],
        limit: float | None,
        started: float,
        candidates: int,
    ) -> list[tuple[str, UUID, UUID]] | None:
        hits = self._vector_hits(text, courses, nearest, candidates)
        if limit is None:
            return await hits
        try:
            return await asyncio.wait_for(hits, max(0.0, limit - (time.perf_counter() - started)))
        except TimeoutError:
            VECTOR_FALLBACKS.labels(self.vectors.mode).inc()
            log.warning("search_vector_unavailable", mode=self.vectors.mode, error=f"no answer within {limit} s")
            return None

    async def _text_search(self, text: str, courses: Sequence[UUID]) -> list[tuple[str, UUID, UUID]]:
        started = time.perf_counter()
        async with self._tx() as session:
            hits = await self._text_hits(session, text, courses)
        SEARCH_LATENCY.labels("text").observe(time.perf_counter() - started)
        return hits

    async def _nearest(self, text: str, candidates: int | None = None) -> list[VectorHit] | VectorIndexUnavailable:
        try:
            return await self.vectors.nearest(self.principal.org_id, text, candidates or self.candidates)
        except VectorIndexUnavailable as exc:
            return exc  # reported by _vector_hits, which knows whether it was needed

    async def _vector_hits(
        self,
        text: str,
        courses: Sequence[UUID],
        nearest: Awaitable[list[VectorHit] | VectorIndexUnavailable] | None = None,
        candidates: int | None = None,
    ) -> list[tuple[str, UUID, UUID]] | None:
        """Chroma's hits within ``courses``; None when Chroma failed (counted and logged here)."""
        started = time.perf_counter()
        try:
            found = await (nearest if nearest is not None else self._nearest(text, candidates))
            if isinstance(found, VectorIndexUnavailable):
                raise found
            kept = await self.vectors.keep(found, self.principal.org_id, text, courses, candidates or self.candidates)
        except VectorIndexUnavailable as exc:
            VECTOR_FALLBACKS.labels(self.vectors.mode).inc()
            log.warning("search_vector_unavailable", mode=self.vectors.mode, error=str(exc), fallback="text")
            return None
        SEARCH_LATENCY.labels("vector").observe(time.perf_counter() - started)
        allowed = set(courses)  # keep() filters already; this states the rule where results are used
        return [(h.chunk_id, h.item_id, h.course_id) for h in kept if h.course_id in allowed]

    async def _text_hits(
        self, session: AsyncSession, text: str, courses: Sequence[UUID]
    ) -> list[tuple[str, UUID, UUID]]:
        query = any_words(text)
        # At most TEXT_SCAN matching passages are ranked: a word in a large share of a big corpus (the
        # synthetic 20,000-chunk benchmark has words in a third of it) made ranking every match cost
        # ~40 ms (10 ms for 2,000, 5 ms for 1,000); past that many matches such a word says little.
        matches = (
            select(ContentChunk.chunk_id, ContentChunk.item_id, ContentChunk.course_id, ContentChunk.tsv)
            .where(ContentChunk.course_id.in_(courses), ContentChunk.tsv.op("@@")(query))
            .limit(TEXT_SCAN)
            .subquery()
        )
        rank = func.ts_rank(matches.c.tsv, query)
        rows = await session.execute(
            select(matches.c.chunk_id, matches.c.item_id, matches.c.course_id)
            .order_by(rank.desc(), matches.c.chunk_id)
            .limit(self.candidates)
        )
        return [(r.chunk_id, r.item_id, r.course_id) for r in rows]

    async def _hits(self, text: str, window: Sequence[Ranked]) -> list[SearchHit]:
        chunk_ids = [r.chunk for r in window if r.chunk]
        query = any_words(text)
        async with self._tx() as session:
            titles = dict(
                (await session.execute(select(Item.id, Item.title).where(Item.id.in_([r.item_id for r in window]))))
                .tuples()
                .all()
            )
            snippets: dict[str, str] = dict(
                (
                    await session.execute(
                        select(
                            ContentChunk.chunk_id,
                            func.ts_headline(TEXT_CONFIG, ContentChunk.content, query, HEADLINE_OPTIONS),
                        ).where(ContentChunk.chunk_id.in_(chunk_ids))
                    )
                )
                .tuples()
                .all()
            )
        return [
            SearchHit(
                item_id=r.item_id,
                course_id=r.course_id,
                title=titles.get(r.item_id, ""),
                snippet=highlight(snippets.get(r.chunk or "", "")),
                score=round(r.score, 6),
            )
            for r in window
            if r.item_id in titles  # an item deleted since it was indexed
        ]


_PASSAGE_COLUMNS = (
    ContentChunk.chunk_id,
    ContentChunk.item_id,
    ContentChunk.title,
    ContentChunk.heading,
    ContentChunk.content,
    ContentChunk.source,
)
SNIPPET_CHARS = 240
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n\s*\n")
_WORD = re.compile(r"[A-Za-z0-9]{3,}")


def _stems(text: str) -> set[str]:
    # A crude prefix stem is enough to find the sentence a question is about ("passwords" ~ "password").
    return {word.lower()[:6] for word in _WORD.findall(text)}


def plain_snippet(content: str, text: str, limit: int = SNIPPET_CHARS) -> str:
    """The passage's sentence sharing most words with ``text`` and those after it, within ``limit``
    characters, as plain text (what the tutor's source links show; the search page uses ``ts_headline``).
    Computed here rather than by PostgreSQL so a tutor turn needs no second round trip for it."""
    sentences = [" ".join(s.split()) for s in _SENTENCE_END.split(content) if s.strip()]
    if not sentences:
        return ""
    wanted = _stems(text)
    best = max(range(len(sentences)), key=lambda i: (len(_stems(sentences[i]) & wanted), -i))
    kept: list[str] = []
    for sentence in sentences[best:]:
        if kept and sum(len(k) + 1 for k in kept) + len(sentence) > limit:
            break
        kept.append(sentence)
    snippet = " ".join(kept)
    return snippet if len(snippet) <= limit else snippet[: limit - 1].rsplit(" ", 1)[0] + "…"


def highlight(headline: str) -> str:
    """``ts_headline`` output (marked with control characters) as escaped HTML with ``<mark>`` tags."""
    return html.escape(headline, quote=False).replace(_START, "<mark>").replace(_STOP, "</mark>")
