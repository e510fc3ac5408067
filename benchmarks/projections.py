"""`lyceum projections rebuild`: events folded per second (issue 12 §4 asks for >= 20,000).

    uv run python benchmarks/projections.py [--learners 4000] [--rounds 3]

Fills the demo org with ``--learners`` learners enrolled in backend-foundations, each with a realistic
stream (enrolled, every lesson and exercise completed, two graded attempts per assessment of which the
second passes, course completed: 27 events), written straight into ``progress_events`` as the table owner.
Then rebuilds the org's projections (progress and mastery) ``--rounds`` times through the same function
the command runs (``rebuild_projections``, as the application role under RLS) and reports the median
events/s. Uses DATABASE_URL/REDIS_URL when set, else embedded servers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from app.db.engine import Database, create_engine, owner_url
from app.db.models import Enrollment, Item, ItemCompetency, Membership, ProgressEvent, User
from app.domain.progress.projections import rebuild_projections
from benchmarks.stack import start_stack

ROOT = Path(__file__).resolve().parents[1]
BATCH = 5000


def _stream(enrollment: Any, items: list[Any], skills: dict[uuid.UUID, list[str]], t0: datetime) -> list[Any]:
    events: list[dict[str, Any]] = []
    at = t0

    def add(kind: str, payload: dict[str, Any], key: str) -> None:
        nonlocal at
        at += timedelta(seconds=1)
        events.append(
            {
                "id": uuid.uuid4(),
                "org_id": enrollment["org_id"],
                "stream_id": enrollment["id"],
                "version": len(events) + 1,
                "type": kind,
                "user_id": enrollment["user_id"],
                "course_id": enrollment["course_id"],
                "payload": payload,
                "idempotency_key": key,
                "created_at": at,
                "updated_at": at,
            }
        )

    add("enrolled", {"course_slug": "backend-foundations"}, f"enrolled:{enrollment['id']}")
    for item in items:
        base = {"item_id": str(item.id), "item_slug": item.slug, "competencies": skills.get(item.id, [])}
        if item.kind != "assessment":
            add("item.completed", {**base, "kind": item.kind}, f"item.completed:{enrollment['id']}:{item.id}")
            continue
        submission = str(uuid.uuid4())
        for passed in (False, True):
            grade = uuid.uuid4()
            graded = {**base, "grade_id": str(grade), "submission_id": submission, "score": 8.0 if passed else 3.0}
            graded |= {"max_score": 10.0, "passed": passed, "graded_by": "auto"}
            add("assessment.graded", graded, f"assessment.graded:{grade}")
            submission = str(uuid.uuid4())
        add("assessment.passed", base, f"passed:{enrollment['id']}:{item.id}")
    add("course.completed", {}, f"course.completed:{enrollment['id']}")
    return events


async def fill(database_url: str, learners: int) -> tuple[uuid.UUID, int]:
    owner = create_engine(owner_url(database_url))
    total = 0
    try:
        async with owner.begin() as conn:
            org_id, course_id = (
                await conn.execute(
                    text(
                        "select o.id, c.id from organizations o join courses c on c.org_id = o.id "
                        "where o.slug = 'demo' and c.slug = 'backend-foundations'"
                    )
                )
            ).one()
            items = list(
                (await conn.execute(select(Item).where(Item.course_id == course_id).order_by(Item.position))).all()
            )
            skills: dict[uuid.UUID, list[str]] = {}
            for item_id, competency_id in await conn.execute(
                select(ItemCompetency.item_id, ItemCompetency.competency_id).where(
                    ItemCompetency.item_id.in_([i.id for i in items])
                )
            ):
                skills.setdefault(item_id, []).append(str(competency_id))
            now = datetime.now(UTC)
            pending: list[dict[str, Any]] = []
            for n in range(learners):
                user_id, enrollment_id = uuid.uuid4(), uuid.uuid4()
                stamp = {"created_at": now, "updated_at": now}
                await conn.execute(
                    insert(User).values(
                        id=user_id,
                        email=f"bench-{user_id.hex[:12]}@demo.test",
                        name="Bench",
                        password_hash="x",
                        is_active=True,
                        **stamp,
                    )
                )
                await conn.execute(insert(Membership).values(org_id=org_id, user_id=user_id, role="learner", **stamp))
                enrollment = {"id": enrollment_id, "org_id": org_id, "user_id": user_id, "course_id": course_id}
                await conn.execute(
                    insert(Enrollment).values(
                        **enrollment, status="completed", completed_at=now + timedelta(minutes=1), **stamp
                    )
                )
                events = _stream(enrollment, items, skills, now - timedelta(days=1, seconds=n))
                # The progress projection as the ledger says: completed at the course.completed event.
                await conn.execute(
                    Enrollment.__table__.update()
                    .where(Enrollment.id == enrollment_id)
                    .values(completed_at=events[-1]["created_at"])
                )
                pending += events
                if len(pending) >= BATCH:
                    await conn.execute(insert(ProgressEvent), pending)
                    total += len(pending)
                    pending = []
            if pending:
                await conn.execute(insert(ProgressEvent), pending)
                total += len(pending)
    finally:
        await owner.dispose()
    return org_id, total


async def run(learners: int, rounds: int) -> dict[str, float]:
    bench = await start_stack("projections", LYCEUM_CONTENT_DIR=str(ROOT / "content"))
    try:
        org_id, filled = await fill(bench.settings.database_url, learners)
        database = Database.from_settings(bench.settings)
        try:
            tenant = database.for_tenant(org_id)
            first = await rebuild_projections(tenant)  # builds the projection the filled events imply
            rates = []
            for _ in range(rounds):
                report = await rebuild_projections(tenant)
                rates.append(report.events_per_second)
        finally:
            await database.dispose()
    finally:
        bench.stop()
    return {
        "events": float(report.events),
        "events_read": float(report.folded),
        "events_filled": float(filled),
        "streams": float(report.streams),
        "estimates": float(report.estimates),
        "first_rebuild_repaired": float(first.enrollments_repaired),
        "events_per_s_median": statistics.median(rates),
        "events_per_s_min": min(rates),
        "seconds_median": report.events / statistics.median(rates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures = asyncio.run(run(args.learners, args.rounds))
    for key, value in figures.items():
        print(f"{key:>24}: {value:,.1f}")


if __name__ == "__main__":
    main()
