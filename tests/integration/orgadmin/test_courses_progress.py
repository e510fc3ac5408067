"""Courses (visibility, enrolment counts and lists) and learners' progress (funnel, deciles, at-risk learners
and their CSV, streamed and safe to open in a spreadsheet), with staff-only access and another org kept out."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from app.config import Settings
from app.db.engine import Database
from app.db.models import AuditLogEntry, Enrollment, Membership, User
from app.domain.orgadmin.progress import AtRiskRule, ProgressReportService
from app.lib.security.principal import Principal
from tests.integration.orgadmin.conftest import Client, World, build_world, sign_in


@pytest.fixture
async def fresh(settings: Settings, seeded: Any) -> AsyncIterator[World]:
    """An org of its own, so the counts below are exactly what the test put there."""
    built = await build_world(settings)
    yield built
    await built.engine.dispose()


async def test_unpublishing_hides_a_course_from_the_catalogue_but_not_from_its_learners(
    client: Client, world: World, admin: dict[str, str]
) -> None:
    await world.add_user("enrolled", "learner")
    await world.add_user("browser", "learner")
    enrolled = await sign_in(client, world.email("enrolled"), world.slug)
    browser = await sign_in(client, world.email("browser"), world.slug)
    course = f"/v1/courses/{world.course_id}"
    assert (await client.post(f"{course}/enrollments", headers=enrolled)).status_code == 201
    listed = (await client.get("/v1/admin/courses", headers=admin)).json()["items"]
    row = next(c for c in listed if c["id"] == str(world.course_id))
    assert (row["is_published"], row["enrolled"], row["active"]) == (True, 1, 1)

    hidden = await client.put(
        f"/v1/admin/courses/{world.course_id}/visibility", headers=admin, json={"is_published": False}
    )
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["is_published"] is False
    try:
        catalogue = (await client.get("/v1/courses", headers=browser)).json()["items"]
        assert str(world.course_id) not in [c["id"] for c in catalogue]
        assert (await client.get(course, headers=browser)).status_code == 404
        assert (await client.post(f"{course}/enrollments", headers=browser)).status_code == 404
        opened = await client.get(course, headers=enrolled)  # enrolled learners keep their course
        assert opened.status_code == 200, opened.text
        item = opened.json()["modules"][0]["items"][0]["id"]
        assert (await client.get(f"{course}/items/{item}", headers=enrolled)).status_code == 200
        assert (await client.get(f"{course}/items/{item}", headers=browser)).status_code == 404
        # Read again through the cache: still only for the enrolled learner.
        assert (await client.get(course, headers=browser)).status_code == 404
    finally:
        shown = await client.put(
            f"/v1/admin/courses/{world.course_id}/visibility", headers=admin, json={"is_published": True}
        )
    assert shown.json()["is_published"] is True
    assert (await client.get(course, headers=browser)).status_code == 200
    async with world.engine.begin() as conn:
        actions = [
            a
            for (a,) in await conn.execute(
                select(AuditLogEntry.action)
                .where(AuditLogEntry.entity_id == str(world.course_id))
                .order_by(AuditLogEntry.created_at)
            )
        ]
    assert actions == ["course.unpublished", "course.published"]
    bad = await client.put(
        f"/v1/admin/courses/{world.course_id}/visibility", headers=admin, json={"is_published": "no"}
    )
    assert bad.status_code in (400, 422)


async def test_progress_funnel_deciles_and_at_risk_learners(client: Client, fresh: World) -> None:
    admin = await sign_in(client, fresh.admin, fresh.slug)
    await fresh.add_user("teacher", "instructor")
    teacher = await sign_in(client, fresh.email("teacher"), fresh.slug)
    learners = {}
    for who in ("idle", "failing", "trying", "done", "new", "half"):
        learners[who] = await fresh.add_user(who, "learner", name=who.title())
    await fresh.enroll(learners["idle"], days_ago=20, done=1)
    await fresh.enroll(learners["failing"], days_ago=0, done=1, failed=3)
    await fresh.enroll(learners["trying"], days_ago=0, done=0, failed=2)
    await fresh.enroll(learners["done"], days_ago=30, done=4, status="completed")
    await fresh.enroll(learners["new"], days_ago=0)
    await fresh.enroll(learners["half"], days_ago=1, done=2)

    report = (await client.get(f"/v1/admin/courses/{fresh.course_id}/progress", headers=teacher)).json()
    assert report["items_total"] == 4
    assert report["funnel"] == {"enrolled": 6, "started": 4, "half_way": 2, "completed": 1}
    deciles = {d["low"]: d["learners"] for d in report["deciles"]}
    assert [deciles[0], deciles[20], deciles[50], deciles[90]] == [2, 2, 1, 1]
    assert sum(deciles.values()) == 6

    at_risk = (await client.get(f"/v1/admin/courses/{fresh.course_id}/at-risk", headers=teacher)).json()
    by_name = {r["name"]: r for r in at_risk["items"]}
    assert set(by_name) == {"Idle", "Failing"}
    assert by_name["Idle"]["reasons"] == ["inactive"]
    assert by_name["Idle"]["inactive_days"] >= 19
    assert by_name["Failing"]["reasons"] == ["failing"]
    assert by_name["Failing"]["failed_attempts"] == 3
    assert (by_name["Idle"]["items_done"], by_name["Idle"]["items_total"]) == (1, 4)
    stricter = await client.get(
        f"/v1/admin/courses/{fresh.course_id}/at-risk",
        headers=teacher,
        params={"inactive_days": 30, "failed_attempts": 2},
    )
    assert {r["name"] for r in stricter.json()["items"]} == {"Failing", "Trying"}
    for bad in ({"inactive_days": 0}, {"failed_attempts": -1}, {"inactive_days": "soon"}):
        response = await client.get(f"/v1/admin/courses/{fresh.course_id}/at-risk", headers=teacher, params=bad)
        assert response.status_code in (400, 422), (bad, response.status_code)

    enrolments = (
        await client.get(f"/v1/admin/courses/{fresh.course_id}/enrollments", headers=admin, params={"limit": 4})
    ).json()
    assert (enrolments["total"], len(enrolments["items"])) == (6, 4)
    assert enrolments["next"]
    assert {e["items_total"] for e in enrolments["items"]} == {4}
    # Instructors see progress, not the admin's course pages; learners see neither.
    assert (await client.get(f"/v1/admin/courses/{fresh.course_id}/enrollments", headers=teacher)).status_code == 403
    learner = await sign_in(client, fresh.email("new"), fresh.slug)
    assert (await client.get(f"/v1/admin/courses/{fresh.course_id}/progress", headers=learner)).status_code == 403


async def test_the_at_risk_csv_streams_many_rows_and_defuses_formulas(
    client: Client, fresh: World, settings: Settings
) -> None:
    teacher_id = await fresh.add_user("csv-teacher", "instructor")
    teacher = await sign_in(client, fresh.email("csv-teacher"), fresh.slug)
    count = 1500
    old = datetime.now(UTC) - timedelta(days=40)
    users = [
        {
            "id": uuid.uuid4(),
            "email": f"bulk{n}-{fresh.tag}@{fresh.slug}.test",
            "name": f"Bulk {n:04d}",
            "password_hash": None,
            "is_active": True,
        }
        for n in range(count)
    ]
    users[0]["name"] = '=HYPERLINK("http://evil.test","click")'
    users[1]["name"] = "@SUM(A1:A9)"
    users[2]["name"] = '+1, "quoted"\nline'
    async with fresh.engine.begin() as conn:
        await conn.execute(insert(User), users)
        await conn.execute(
            insert(Membership),
            [{"id": uuid.uuid4(), "org_id": fresh.org_id, "user_id": u["id"], "role": "learner"} for u in users],
        )
        await conn.execute(
            insert(Enrollment),
            [
                {
                    "id": uuid.uuid4(),
                    "org_id": fresh.org_id,
                    "user_id": u["id"],
                    "course_id": fresh.course_id,
                    "status": "active",
                    "created_at": old,
                    "updated_at": old,
                }
                for u in users
            ],
        )
    async with client.stream("GET", f"/v1/admin/courses/{fresh.course_id}/at-risk.csv", headers=teacher) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        assert "content-length" not in response.headers  # streamed, not built whole
        body = "".join([chunk async for chunk in response.aiter_text()])
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:2] == ["name", "email"]
    assert len(rows) == count + 1
    names = {row[0] for row in rows[1:]}
    assert '\'=HYPERLINK("http://evil.test","click")' in names
    assert "'@SUM(A1:A9)" in names
    assert '\'+1, "quoted"\nline' in names  # quoting survives, the formula does not
    assert not any(name.startswith(("=", "+", "-", "@")) for name in names)
    assert all(row[8] == "inactive" for row in rows[1:])
    # The service yields line by line from a server-side cursor: one piece per row, never the whole file.
    database = Database.from_settings(settings)
    try:
        service = ProgressReportService(
            database.for_tenant(fresh.org_id, teacher_id),
            Principal(user_id=teacher_id, org_id=fresh.org_id, roles=frozenset({"instructor"})),
        )
        pieces = [piece async for piece in service.at_risk_csv(fresh.course_id, AtRiskRule())]
    finally:
        await database.dispose()
    assert len(pieces) == count + 1
    assert "".join(pieces) == body


async def test_another_org_cannot_read_or_change_these_courses(
    client: Client, world: World, demo_admin: dict[str, str]
) -> None:
    base = f"/v1/admin/courses/{world.course_id}"
    assert (await client.put(f"{base}/visibility", headers=demo_admin, json={"is_published": False})).status_code == 404
    for path in ("enrollments", "progress", "at-risk", "at-risk.csv"):
        assert (await client.get(f"{base}/{path}", headers=demo_admin)).status_code == 404, path
    listed = (await client.get("/v1/admin/courses", headers=demo_admin, params={"limit": 100})).json()["items"]
    assert str(world.course_id) not in [c["id"] for c in listed]
