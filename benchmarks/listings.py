"""Paged listings: advanced-alchemy's repository service against a hand-written Core query, in one run.

    uv run python benchmarks/listings.py [--seconds 2] [--rounds 3] [--concurrency 8]

(r) the course catalogue and the audit log as the API reads them: ``SQLAlchemyAsyncRepositoryService``
    ``list_and_count`` with a ``LimitOffset`` filter, then ``to_schema`` into the response Structs
(h) the same pages the hand-written way: ``fetch_page`` (count + page in Core) and Structs built by hand

Both run in the tenant's RLS transaction, interleaved in short slices so machine noise hits both alike;
the median round is reported as pages/s and the ratio r/h (ADR 0009 keeps hand-written queries only where
this ratio shows a real loss). Uses DATABASE_URL/REDIS_URL when set, else the embedded servers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from advanced_alchemy.filters import LimitOffset
from sqlalchemy import select, text

from app.db.engine import Database, TenantDatabase, create_engine, owner_url
from app.db.models import AuditLogEntry, Course
from app.db.repositories import Repository, RepositoryService
from app.domain.audit.schemas import AuditEntry
from app.domain.audit.services import AuditLogEntries, record_audit
from app.domain.courses.schemas import CourseSummary
from app.domain.courses.services import course_summary
from app.lib.pagination import fetch_page, paginated
from benchmarks.stack import start_stack

ROOT = Path(__file__).resolve().parents[1]
SLICES = 10
PAGE = LimitOffset(limit=20, offset=0)


class CourseRepository(Repository[Course]):
    model_type = Course


class Courses(RepositoryService[Course, CourseRepository]):
    """The catalogue as a repository service: measured here only (the API keeps Core, ADR 0009)."""

    repository_type = CourseRepository


async def repo_courses(db: TenantDatabase) -> int:
    filters: list[Any] = [PAGE, Course.is_published.is_(True)]
    async with db.transaction() as session:
        courses = Courses(session=session)
        rows, total = await courses.list_and_count(*filters, order_by=[(Course.title, False), (Course.id, False)])
        return len(courses.to_schema(rows, total, filters=filters, schema_type=CourseSummary).items)


async def core_courses(db: TenantDatabase) -> int:
    query = select(Course).where(Course.is_published.is_(True)).order_by(Course.title, Course.id)
    async with db.transaction() as session:
        rows, result = await fetch_page(session, query, PAGE)
        items = [course_summary(c) for c in rows]
        return len(paginated(items, result).items)


async def repo_audit(db: TenantDatabase) -> int:
    async with db.transaction() as session:
        entries = AuditLogEntries(session=session)
        order = [(AuditLogEntry.created_at, True), (AuditLogEntry.id, False)]
        rows, total = await entries.list_and_count(PAGE, order_by=order)
        return len(entries.to_schema(rows, total, filters=[PAGE], schema_type=AuditEntry).items)


async def core_audit(db: TenantDatabase) -> int:
    query = select(AuditLogEntry).order_by(AuditLogEntry.created_at.desc(), AuditLogEntry.id)
    async with db.transaction() as session:
        rows, result = await fetch_page(session, query, PAGE)
        items = [
            AuditEntry(
                id=r.id,
                actor_id=r.actor_id,
                action=r.action,
                entity_type=r.entity_type,
                entity_id=r.entity_id,
                before=r.before,
                after=r.after,
                request_id=r.request_id,
                created_at=r.created_at,
            )
            for r in rows
        ]
        return len(paginated(items, result).items)


async def throughput(
    read: Callable[[TenantDatabase], Awaitable[int]], db: TenantDatabase, seconds: float, n: int
) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await read(db)
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(n)))
    return done / (time.perf_counter() - start)


async def run(seconds: float, rounds: int, concurrency: int) -> dict[str, float]:
    bench = await start_stack("listings", LYCEUM_CONTENT_DIR=str(ROOT / "content"))
    settings = bench.settings
    try:
        owner = create_engine(owner_url(settings.database_url))
        async with owner.connect() as conn:
            org_id = (await conn.execute(text("select id from organizations where slug = 'demo'"))).scalar_one()
        await owner.dispose()
        database = Database.from_settings(settings)
        db = database.for_tenant(org_id)
        async with db.transaction() as session:  # a full first page of the audit log
            for n in range(PAGE.limit * 3):
                record_audit(
                    session, org_id=org_id, actor_id=None, action="bench.entry", entity_type="bench", entity_id=n
                )
        targets = {"courses_repo": repo_courses, "courses_core": core_courses, "audit_repo": repo_audit}
        targets["audit_core"] = core_audit
        results: dict[str, list[float]] = {k: [] for k in targets}
        try:
            for read in targets.values():  # warm the pool and the statement caches
                await throughput(read, db, 0.3, concurrency)
            for _ in range(rounds):
                totals = dict.fromkeys(targets, 0.0)
                for _ in range(SLICES):
                    for name, read in targets.items():
                        totals[name] += await throughput(read, db, seconds / SLICES, concurrency) / SLICES
                for name, rate in totals.items():
                    results[name].append(rate)
        finally:
            await database.dispose()
    finally:
        bench.stop()
    median = {k: statistics.median(v) for k, v in results.items()}
    return {
        **{f"{k}_per_s": v for k, v in median.items()},
        "courses_repo_over_core": median["courses_repo"] / median["courses_core"],
        "audit_repo_over_core": median["audit_repo"] / median["audit_core"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    figures = asyncio.run(run(args.seconds, args.rounds, args.concurrency))
    print("| measure | value |\n|---|---|")
    for key, value in figures.items():
        print(f"| {key} | {value:,.3f} |" if value < 10 else f"| {key} | {value:,.0f} |")


if __name__ == "__main__":
    main()
