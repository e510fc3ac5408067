"""Course authoring API (issue 17): the contract (201 draft, PUT, preview, publish -> version), validation
errors with path and line, every kind of bad input refused as a 4xx with nothing written, slug collisions
(own org and another org's) as 409, drafts invisible to learners, publish writing an immutable version, the
audit entry and the learner catalogue, and the diff of a second version."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.db.engine import Database
from app.db.models import AuditLogEntry, Course, CourseDraft, CourseVersion, Enrollment
from app.domain.progress.services import append_progress_event, complete_course_if_finished
from tests.support.grading import new_learner
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]
YAML = {"Content-Type": "application/yaml"}


# Titles sort after the seeded courses': the catalogue is ordered by title, and other tests in the session
# take the first course listed to be the org's seeded one.
def course_yaml(
    slug: str, title: str = "Workshop in Authoring", extra_item: bool = False, lesson_body: str = "Read me."
) -> str:
    extra = (
        """
      - slug: {slug}-extra
        kind: lesson
        title: An extra lesson
        bloom_level: understand
        competencies: [basics]
        body: More to read.
"""
        if extra_item
        else ""
    ).format(slug=slug)
    return f"""slug: {slug}
title: {title}
summary: A course written in the browser.
level: beginner
estimated_hours: 2
tags: [testing]
competencies:
  - slug: basics
    name: The basics
modules:
  - slug: first
    title: First steps
    items:
      - slug: {slug}-intro
        kind: lesson
        title: Introduction
        bloom_level: remember
        competencies: [basics]
        body: {lesson_body}
{extra}      - slug: {slug}-quiz
        kind: assessment
        title: Quick check
        bloom_level: understand
        prerequisites: [{slug}-intro]
        competencies: [basics]
        body: Answer the question.
        assessment:
          type: multiple_choice
          objectives: [Add small numbers]
          questions:
            - prompt: Two plus two?
              options: ["3", "4"]
              answer: 1
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def instructor(client: Client) -> dict[str, str]:
    return await auth_headers(client, "instructor@demo.test", "demo")


@pytest.fixture(scope="module")
async def learner(client: Client) -> dict[str, str]:
    return await auth_headers(client, "learner@demo.test", "demo")


@pytest.fixture(scope="module")
async def acme_instructor(client: Client) -> dict[str, str]:
    return await auth_headers(client, "instructor@acme.test", "acme")


@pytest.fixture(scope="module")
async def demo_org(client: Client, instructor: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await client.get("/v1/me", headers=instructor)).json()["org_id"])


@pytest.fixture(scope="module")
async def db(settings: Settings, seeded: Any) -> Any:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


async def create(client: Client, headers: dict[str, str], body: str | bytes) -> Any:
    return await client.post("/v1/authoring/courses", headers={**headers, **YAML}, content=body)


async def drafts_with(db: Database, org: uuid.UUID, slug: str) -> int:
    async with db.transaction(org) as session:
        return len(list(await session.scalars(select(CourseDraft.id).where(CourseDraft.slug == slug))))


async def test_draft_preview_publish_contract(
    client: Client, instructor: dict[str, str], learner: dict[str, str], db: Database, demo_org: uuid.UUID
) -> None:
    slug = unique("authored")
    created = await create(client, instructor, course_yaml(slug))
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "slug", "status", "version"}
    assert body["slug"] == slug
    assert body["status"] == "draft"
    assert body["version"] == 1
    draft_id = body["id"]

    # A draft never reaches learners: not in the catalogue, not searchable by slug.
    catalogue = (await client.get("/v1/courses", headers=learner, params={"q": slug})).json()
    assert catalogue["items"] == []

    listed = (await client.get("/v1/authoring/courses", headers=instructor)).json()
    assert any(row["id"] == draft_id and row["status"] == "draft" for row in listed)

    preview = await client.get(f"/v1/authoring/courses/{draft_id}/preview", headers=instructor)
    assert preview.status_code == 200, preview.text
    view = preview.json()
    assert view["course"]["slug"] == slug
    assert [i["slug"] for i in view["items"]] == [f"{slug}-intro", f"{slug}-quiz"]
    quiz = view["course"]["modules"][0]["items"][1]
    assert quiz["prerequisites"] == [view["items"][0]["id"]]  # the pathway's edges, by preview id
    assert [a["slug"] for a in view["diff"]["added"]] == [f"{slug}-intro", f"{slug}-quiz"]
    async with db.transaction(demo_org) as session:
        assert await session.scalar(select(Course.id).where(Course.slug == slug)) is None  # nothing live yet

    published = await client.post(f"/v1/authoring/courses/{draft_id}/publish", headers=instructor)
    assert published.status_code == 200, published.text
    assert published.json()["version"] == 1
    course_id = published.json()["course_id"]

    catalogue = (await client.get("/v1/courses", headers=learner, params={"q": slug})).json()
    assert [c["id"] for c in catalogue["items"]] == [course_id]
    async with db.transaction(demo_org) as session:
        versions = list(await session.scalars(select(CourseVersion).where(CourseVersion.course_id == course_id)))
        assert [(v.version, v.item_slugs) for v in versions] == [(1, [f"{slug}-intro", f"{slug}-quiz"])]
        audits = list(await session.scalars(select(AuditLogEntry.action).where(AuditLogEntry.entity_id == course_id)))
        assert audits == ["course.published"]
    detail = (await client.get(f"/v1/authoring/courses/{draft_id}", headers=instructor)).json()
    assert detail["status"] == "published"
    assert detail["published_version"] == 1

    # Publishing the same content again is refused: nothing to publish.
    again = await client.post(f"/v1/authoring/courses/{draft_id}/publish", headers=instructor)
    assert again.status_code == 409

    # Editing the draft changes nothing learners see until it is published.
    edited = course_yaml(
        slug, title="Workshop in Authoring, second edition", extra_item=True, lesson_body="Read me again."
    )
    replaced = await client.put(f"/v1/authoring/courses/{draft_id}", headers={**instructor, **YAML}, content=edited)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {"id": draft_id, "slug": slug, "status": "changes_pending", "version": 2}
    outline = (await client.get(f"/v1/courses/{course_id}", headers=learner)).json()
    assert outline["title"] == "Workshop in Authoring"
    assert outline["version"] == 1
    diff = (await client.get(f"/v1/authoring/courses/{draft_id}/diff", headers=instructor)).json()
    assert diff["base_version"] == 1
    assert [a["slug"] for a in diff["added"]] == [f"{slug}-extra"]
    assert [(c["slug"], c["fields"]) for c in diff["changed"]] == [(f"{slug}-intro", ["body"])]
    assert diff["removed"] == []
    assert "title" in diff["course_fields"]

    second = await client.post(f"/v1/authoring/courses/{draft_id}/publish", headers=instructor)
    assert second.status_code == 200
    assert second.json()["version"] == 2
    outline = (await client.get(f"/v1/courses/{course_id}", headers=learner)).json()
    assert outline["version"] == 2
    assert [i["slug"] for i in outline["modules"][0]["items"]] == [f"{slug}-intro", f"{slug}-extra", f"{slug}-quiz"]

    # Removing an item nobody answered: the live item goes, and the version records it.
    third = await client.put(
        f"/v1/authoring/courses/{draft_id}", headers={**instructor, **YAML}, content=course_yaml(slug)
    )
    assert third.status_code == 200
    assert [
        r["slug"]
        for r in (await client.get(f"/v1/authoring/courses/{draft_id}/diff", headers=instructor)).json()["removed"]
    ] == [f"{slug}-extra"]
    done = await client.post(f"/v1/authoring/courses/{draft_id}/publish", headers=instructor)
    assert done.status_code == 200
    assert done.json() == {
        "version": 3,
        "course_id": course_id,
        "removed_items": [f"{slug}-extra"],
    }
    outline = (await client.get(f"/v1/courses/{course_id}", headers=learner)).json()
    assert [i["slug"] for i in outline["modules"][0]["items"]] == [f"{slug}-intro", f"{slug}-quiz"]

    # A published version is immutable, even for the table owner's application role.
    async with db.transaction(demo_org) as session:
        with pytest.raises(DBAPIError):
            await session.execute(
                text("update course_versions set source = 'x' where course_id = :c"), {"c": course_id}
            )


async def test_validation_errors_carry_path_and_line(client: Client, instructor: dict[str, str]) -> None:
    broken = course_yaml(unique("broken")).replace("bloom_level: remember", "bloom_level: rememberr")
    response = await client.post("/v1/authoring/validate", headers={**instructor, **YAML}, content=broken)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert errors[0]["path"] == "modules[0].items[0].bloom_level"
    assert errors[0]["line"] == 17
    assert "rememberr" in errors[0]["message"] or "allowed" in errors[0]["message"]
    ok = await client.post("/v1/authoring/validate", headers={**instructor, **YAML}, content=course_yaml("fine-course"))
    assert ok.status_code == 200
    assert ok.json()["valid"] is True
    # A rule of the loader (not the schema): an unknown prerequisite, with its line.
    rule = course_yaml("rule-course").replace("prerequisites: [rule-course-intro]", "prerequisites: [nowhere]")
    response = await client.post("/v1/authoring/validate", headers={**instructor, **YAML}, content=rule)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "modules[0].items[1].prerequisites[0]"
    assert response.json()["errors"][0]["line"] == 24


BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: [*b, *b, *b, *b, *b, *b, *b, *b]\n"
)


@pytest.mark.parametrize(
    ("name", "body", "status", "needle"),
    [
        ("bomb", BOMB.encode(), 422, "aliases"),
        ("deep", ("a: " + "[" * 5000 + "]" * 5000 + "\n").encode(), 422, "nested"),
        (
            "deep-block",
            "".join(f"{'  ' * i}k{i}:\n" for i in range(200)).encode() + b"  " * 200 + b"v\n",
            422,
            "nested",
        ),
        ("utf8", b"slug: caf\xc3\x28\ntitle: x\n", 422, "UTF-8"),
        ("nul", b"slug: a\x00b\ntitle: x\n", 422, "NUL"),
        ("syntax", b"slug: [unclosed\n", 422, "syntax"),
        ("empty", b"", 422, "empty"),
        ("not-a-mapping", b"- just\n- a list\n", 422, ""),
    ],
)
async def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    client: Client,
    instructor: dict[str, str],
    db: Database,
    demo_org: uuid.UUID,
    name: str,
    body: bytes,
    status: int,
    needle: str,
) -> None:
    async with db.transaction(demo_org) as session:
        before = await session.scalar(text("select count(*) from course_drafts"))
    response = await create(client, instructor, body)
    assert response.status_code == status, (name, response.text)
    problem = response.json()
    assert problem["status"] == status
    assert needle in problem["detail"] + str(problem.get("errors", "")), problem
    for error in problem.get("errors", []):
        assert set(error) == {"path", "line", "message"}
    async with db.transaction(demo_org) as session:
        assert await session.scalar(text("select count(*) from course_drafts")) == before


async def test_oversized_and_wrong_media_type(client: Client, instructor: dict[str, str], settings: Settings) -> None:
    huge = b"# " + b"x" * (5 * 1024 * 1024) + b"\n"
    response = await create(client, instructor, huge)
    assert response.status_code == 413, response.text
    just_over = course_yaml("big-course") + "# " + "x" * settings.authoring_max_yaml_bytes + "\n"
    response = await create(client, instructor, just_over)
    assert response.status_code == 413
    assert "KB" in response.json()["detail"]
    response = await client.post(
        "/v1/authoring/courses", headers={**instructor, "Content-Type": "application/json"}, content=b"{}"
    )
    assert response.status_code == 415


async def test_slug_collisions_are_409_with_the_reason(
    client: Client, instructor: dict[str, str], acme_instructor: dict[str, str], db: Database, demo_org: uuid.UUID
) -> None:
    # A live course of the same org (seeded).
    response = await create(client, instructor, course_yaml("backend-foundations"))
    assert response.status_code == 409
    assert "your organization" in response.json()["detail"]
    # Another draft of the same org.
    slug = unique("twice")
    assert (await create(client, instructor, course_yaml(slug))).status_code == 201
    response = await create(client, instructor, course_yaml(slug))
    assert response.status_code == 409
    assert await drafts_with(db, demo_org, slug) == 1
    # Another org's draft: refused without revealing anything but the fact.
    response = await create(client, acme_instructor, course_yaml(slug))
    assert response.status_code == 409
    assert "another organization" in response.json()["detail"]
    # Another org's live course (demo only has this one).
    only_demo = unique("demo-only")
    draft = (await create(client, instructor, course_yaml(only_demo))).json()
    assert (await client.post(f"/v1/authoring/courses/{draft['id']}/publish", headers=instructor)).status_code == 200
    response = await create(client, acme_instructor, course_yaml(only_demo))
    assert response.status_code == 409
    # A published course keeps its slug.
    renamed = await client.put(
        f"/v1/authoring/courses/{draft['id']}", headers={**instructor, **YAML}, content=course_yaml(unique("renamed"))
    )
    assert renamed.status_code == 409


async def test_drafts_are_per_org_and_staff_only(
    client: Client, instructor: dict[str, str], acme_instructor: dict[str, str], learner: dict[str, str]
) -> None:
    draft = (await create(client, instructor, course_yaml(unique("tenant")))).json()
    for path in ("", "/preview", "/diff"):
        assert (
            await client.get(f"/v1/authoring/courses/{draft['id']}{path}", headers=acme_instructor)
        ).status_code == 404
    assert (
        await client.post(f"/v1/authoring/courses/{draft['id']}/publish", headers=acme_instructor)
    ).status_code == 404
    assert (await client.get(f"/v1/authoring/courses/{draft['id']}", headers=learner)).status_code == 403
    assert (await create(client, learner, course_yaml(unique("learner")))).status_code == 403
    assert (await client.get("/v1/authoring/courses")).status_code == 401
    listed = (await client.get("/v1/authoring/courses", headers=acme_instructor)).json()
    assert draft["id"] not in {row["id"] for row in listed}


async def test_learners_record_their_version_and_are_migrated_with_a_report(
    client: Client, instructor: dict[str, str], learner: dict[str, str], db: Database, demo_org: uuid.UUID
) -> None:
    slug = unique("versions")
    draft = (await create(client, instructor, course_yaml(slug, extra_item=True))).json()
    not_yet = await client.post(f"/v1/authoring/courses/{draft['id']}/migrate", headers=instructor)
    assert not_yet.status_code == 409
    course_id = (await client.post(f"/v1/authoring/courses/{draft['id']}/publish", headers=instructor)).json()[
        "course_id"
    ]
    assert (await client.post(f"/v1/courses/{course_id}/enrollments", headers=learner)).status_code in (200, 201)
    async with db.transaction(demo_org) as session:
        assert (
            await session.scalar(text("select course_version from enrollments where course_id = :c"), {"c": course_id})
            == 1
        )
    saved = await client.put(
        f"/v1/authoring/courses/{draft['id']}", headers={**instructor, **YAML}, content=course_yaml(slug)
    )
    assert saved.status_code == 200
    assert (await client.post(f"/v1/authoring/courses/{draft['id']}/publish", headers=instructor)).json()[
        "version"
    ] == 2
    report = await client.post(f"/v1/authoring/courses/{draft['id']}/migrate", headers=instructor)
    assert report.status_code == 200, report.text
    assert report.json() == {"version": 2, "migrated": 1, "from_versions": [1], "removed_items": [f"{slug}-extra"]}
    again = (await client.post(f"/v1/authoring/courses/{draft['id']}/migrate", headers=instructor)).json()
    assert again["migrated"] == 0
    async with db.transaction(demo_org) as session:
        assert (
            await session.scalar(text("select course_version from enrollments where course_id = :c"), {"c": course_id})
            == 2
        )
        actions = list(await session.scalars(select(AuditLogEntry.action).where(AuditLogEntry.entity_id == course_id)))
    assert "course.learners_migrated" in actions


def _outline_items(outline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["slug"]: item for module in outline["modules"] for item in module["items"]}


async def test_learners_see_their_version_until_migrated(
    client: Client, instructor: dict[str, str], db: Database, demo_org: uuid.UUID
) -> None:
    """A learner enrolled at v1 keeps v1's outline and item text after v2 is published (not v2's new item),
    their progress on a kept item counts, a learner enrolling after v2 gets v2, and the migration moves the
    first learner to v2. Staff see the latest throughout."""
    slug = unique("pinned")
    v1_yaml = course_yaml(slug, lesson_body="The first version's text.")
    v2_yaml = course_yaml(slug, extra_item=True, lesson_body="The second version's text.").replace(
        "title: Introduction", "title: Introduction, revised"
    )
    draft = (await create(client, instructor, v1_yaml)).json()
    course_id = (await client.post(f"/v1/authoring/courses/{draft['id']}/publish", headers=instructor)).json()[
        "course_id"
    ]
    early = await new_learner(client, enrol=None)
    assert (await client.post(f"/v1/courses/{course_id}/enrollments", headers=early)).status_code == 201
    v1_outline = (await client.get(f"/v1/courses/{course_id}", headers=early)).json()
    intro_id = _outline_items(v1_outline)[f"{slug}-intro"]["id"]
    done = await client.post(f"/v1/courses/{course_id}/items/{intro_id}/completion", headers=early)
    assert done.status_code == 201, done.text

    assert (
        await client.put(f"/v1/authoring/courses/{draft['id']}", headers={**instructor, **YAML}, content=v2_yaml)
    ).status_code == 200
    published = await client.post(f"/v1/authoring/courses/{draft['id']}/publish", headers=instructor)
    assert published.json()["version"] == 2, published.text

    # Staff (and the authoring preview) see the latest.
    staff_view = (await client.get(f"/v1/courses/{course_id}", headers=instructor)).json()
    assert (staff_view["version"], staff_view.get("latest_version")) == (2, None)
    staff_items = _outline_items(staff_view)
    assert list(staff_items) == [f"{slug}-intro", f"{slug}-extra", f"{slug}-quiz"]
    assert staff_items[f"{slug}-intro"]["title"] == "Introduction, revised"
    extra_id = staff_items[f"{slug}-extra"]["id"]

    # The early learner stays on v1: its titles, its body, not the item v2 added.
    pinned = (await client.get(f"/v1/courses/{course_id}", headers=early)).json()
    assert (pinned["version"], pinned["latest_version"]) == (1, 2)
    assert pinned["enrollment"]["status"] == "active"
    pinned_items = _outline_items(pinned)
    assert list(pinned_items) == [f"{slug}-intro", f"{slug}-quiz"]
    assert pinned_items[f"{slug}-intro"]["id"] == intro_id  # the same live row
    assert pinned_items[f"{slug}-intro"]["title"] == "Introduction"
    assert [i["position"] for i in pinned_items.values()] == [0, 1]
    item = (await client.get(f"/v1/courses/{course_id}/items/{intro_id}", headers=early)).json()
    assert (item["title"], item["body"]) == ("Introduction", "The first version's text.")
    added = await client.get(f"/v1/courses/{course_id}/items/{extra_id}", headers=early)
    assert added.status_code == 404, added.text
    assert "version 1" in added.json()["detail"]
    not_mine = await client.post(f"/v1/courses/{course_id}/items/{extra_id}/completion", headers=early)
    assert not_mine.status_code == 404
    progress = (await client.get(f"/v1/courses/{course_id}/progress", headers=early)).json()
    assert (progress["completed_items"], progress["total_items"]) == (1, 2)  # v1's items; the kept one counts
    # Cached in-process: a second read answers the same (no source parsed again).
    assert (await client.get(f"/v1/courses/{course_id}", headers=early)).json() == pinned

    # A learner enrolling now gets v2.
    late = await new_learner(client, enrol=None)
    assert (await client.post(f"/v1/courses/{course_id}/enrollments", headers=late)).status_code == 201
    latest = (await client.get(f"/v1/courses/{course_id}", headers=late)).json()
    assert (latest["version"], latest.get("latest_version")) == (2, None)
    assert list(_outline_items(latest)) == list(staff_items)
    late_item = (await client.get(f"/v1/courses/{course_id}/items/{intro_id}", headers=late)).json()
    assert (late_item["title"], late_item["body"]) == ("Introduction, revised", "The second version's text.")

    # The instructor moves the early learner: v2 from now on, their progress on the kept item carried over.
    report = (await client.post(f"/v1/authoring/courses/{draft['id']}/migrate", headers=instructor)).json()
    assert (report["migrated"], report["from_versions"]) == (1, [1])
    moved = (await client.get(f"/v1/courses/{course_id}", headers=early)).json()
    assert (moved["version"], moved.get("latest_version")) == (2, None)
    assert list(_outline_items(moved)) == list(staff_items)
    moved_item = (await client.get(f"/v1/courses/{course_id}/items/{intro_id}", headers=early)).json()
    assert moved_item["body"] == "The second version's text."
    assert (await client.get(f"/v1/courses/{course_id}/items/{extra_id}", headers=early)).status_code == 200
    progress = (await client.get(f"/v1/courses/{course_id}/progress", headers=early)).json()
    assert (progress["completed_items"], progress["total_items"]) == (1, 3)


async def test_items_removed_later_are_left_out_and_the_learner_finishes_their_version(
    client: Client, instructor: dict[str, str], db: Database, demo_org: uuid.UUID
) -> None:
    """v2 removes the extra lesson (no submissions: the publish deletes it) and adds a newer one. The learner
    on v1 sees neither; their course is finished once v1's remaining items are done, not v2's."""
    slug = unique("removed")
    v1_yaml = course_yaml(slug, extra_item=True, lesson_body="One.")
    draft = (await create(client, instructor, v1_yaml)).json()
    course_id = (await client.post(f"/v1/authoring/courses/{draft['id']}/publish", headers=instructor)).json()[
        "course_id"
    ]
    learner = await new_learner(client, enrol=None)
    assert (await client.post(f"/v1/courses/{course_id}/enrollments", headers=learner)).status_code == 201
    v2_yaml = course_yaml(slug, extra_item=True, lesson_body="Two.").replace(f"{slug}-extra", f"{slug}-newer")
    saved = await client.put(f"/v1/authoring/courses/{draft['id']}", headers={**instructor, **YAML}, content=v2_yaml)
    assert saved.status_code == 200, saved.text
    published = (await client.post(f"/v1/authoring/courses/{draft['id']}/publish", headers=instructor)).json()
    assert published["removed_items"] == [f"{slug}-extra"]

    pinned = (await client.get(f"/v1/courses/{course_id}", headers=learner)).json()
    assert (pinned["version"], pinned["latest_version"]) == (1, 2)
    items = _outline_items(pinned)
    assert list(items) == [f"{slug}-intro", f"{slug}-quiz"]  # extra removed (left out), newer not in v1
    intro_id, quiz_id = items[f"{slug}-intro"]["id"], items[f"{slug}-quiz"]["id"]
    assert (await client.get(f"/v1/courses/{course_id}/items/{intro_id}", headers=learner)).json()["body"] == "One."
    done = await client.post(f"/v1/courses/{course_id}/items/{intro_id}/completion", headers=learner)
    assert done.status_code == 201, done.text
    assert (done.json()["progress"]["completed_items"], done.json()["progress"]["total_items"]) == (1, 2)

    # Passing the quiz (recorded as the grader would) finishes v1, although v2's newer lesson is not done.
    async with db.transaction(demo_org) as session:
        enrollment = await session.scalar(
            select(Enrollment).where(Enrollment.course_id == uuid.UUID(course_id), Enrollment.course_version == 1)
        )
        assert enrollment is not None
        await append_progress_event(
            session,
            enrollment,
            "item.completed",
            {"item_id": quiz_id, "item_slug": f"{slug}-quiz", "kind": "assessment", "competencies": []},
            f"item.completed:{enrollment.id}:{quiz_id}",
        )
        assert await complete_course_if_finished(session, enrollment, None)
    finished = (await client.get(f"/v1/courses/{course_id}", headers=learner)).json()
    assert finished["enrollment"]["status"] == "completed"
    # Finished, they are no longer held on their version.
    assert (finished["version"], finished.get("latest_version")) == (2, None)
    assert list(_outline_items(finished)) == [f"{slug}-intro", f"{slug}-newer", f"{slug}-quiz"]
