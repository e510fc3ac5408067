"""Mastery (BKT per learner and competency), competency gates, and `lyceum projections rebuild` (issue 12
§4-§5), through the API and a real grading worker."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from saq import Worker
from sqlalchemy import func, select, text

from app.config import Settings
from app.db.engine import Database, create_engine, owner_url
from app.db.models import Assessment, Grade, ProgressEvent, Submission
from app.domain.mastery.bkt import EXERCISE_WEIGHT, BKTParams, update
from app.domain.progress.completion import record_grade_progress
from app.domain.progress.projections import rebuild_projections
from tests.support.grading import (
    Client,
    assessment,
    assessment_spec,
    course_by_slug,
    learner_session,
    new_learner,
    wait_for,
)
from tests.support.stack import auth_headers

ROOT = Path(__file__).resolve().parents[3]
HTTP_APIS = BKTParams(prior=0.2, learn=0.15, slip=0.1, guess=0.15)  # content/courses/backend-foundations.yaml


def _right_choices() -> list[int]:
    return [q["answer"] for q in assessment_spec("http-fundamentals-quiz")["questions"]]


async def _mastery(client: Client, headers: dict[str, str], course_id: str) -> dict[str, dict[str, Any]]:
    answer = await client.get("/v1/me/mastery", headers=headers, params={"course_id": course_id})
    assert answer.status_code == 200, answer.text
    return {row["slug"]: row for row in answer.json()["items"]}


def _items(course: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["slug"]: i for m in course["modules"] for i in m["items"]}


async def _complete(client: Client, headers: dict[str, str], course: dict[str, Any], *slugs: str) -> None:
    for slug in slugs:
        url = f"/v1/courses/{course['id']}/items/{_items(course)[slug]['id']}/completion"
        answer = await client.post(url, headers=headers)
        assert answer.status_code in (200, 201), answer.text


async def test_mastery_lists_every_competency_with_the_prior_before_evidence(gclient: Client) -> None:
    headers = await new_learner(gclient, unlock=False)
    course = await course_by_slug(gclient, headers, "backend-foundations")
    answer = await gclient.get("/v1/me/mastery", headers=headers, params={"course_id": course["id"]})
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [set(i) for i in items] == [
        {"competency_id", "slug", "name", "mastery", "attempts", "last_evidence_at"} for _ in items
    ]
    by_slug = {i["slug"]: i for i in items}
    assert set(by_slug) == {c["slug"] for c in course["competencies"]}
    assert by_slug["http-apis"] == {
        "competency_id": next(c["id"] for c in course["competencies"] if c["slug"] == "http-apis"),
        "slug": "http-apis",
        "name": "Designing HTTP APIs",
        "mastery": 0.2,
        "attempts": 0,
        "last_evidence_at": None,
    }
    assert by_slug["authentication"]["mastery"] == 0.1  # its own prior from the YAML


async def test_mastery_of_a_course_not_yours_is_a_4xx(gclient: Client) -> None:
    headers = await new_learner(gclient, unlock=False)
    other = await course_by_slug(gclient, headers, "scalable-systems")  # not enrolled
    for params in ({"course_id": other["id"]}, {"course_id": str(uuid.uuid4())}):
        answer = await gclient.get("/v1/me/mastery", headers=headers, params=params)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
    for params in ({}, {"course_id": "not-a-uuid"}):
        answer = await gclient.get("/v1/me/mastery", headers=headers, params=params)
        assert 400 <= answer.status_code < 500, answer.text
    # Another org's learner: the demo course id is not theirs (RLS), the same 404.
    acme = await auth_headers(gclient, "learner@acme.test", "acme")
    demo_only = await course_by_slug(gclient, headers, "distributed-systems-lab")
    assert (await gclient.get("/v1/me/mastery", headers=acme, params={"course_id": demo_only["id"]})).status_code == 404


async def test_gate_locks_the_item_until_an_exercise_brings_mastery_up(gclient: Client) -> None:
    headers = await new_learner(gclient, unlock=False)
    course = await course_by_slug(gclient, headers, "backend-foundations")
    items = _items(course)
    quiz = items["http-fundamentals-quiz"]
    assert quiz["requires"] == [{"competency_id": _competency(course, "http-apis"), "mastery": 0.4}]
    await _complete(gclient, headers, course, "http-request-lifecycle", "designing-resources")

    # Prerequisites done, gate not met: the page, the progress and a submission all say what is missing.
    opened = await gclient.get(f"/v1/courses/{course['id']}/items/{quiz['id']}", headers=headers)
    assert opened.status_code == 409
    assert opened.headers["content-type"].startswith("application/problem+json")
    problem = opened.json()
    assert problem["code"] == "gated"
    assert problem["missing_competencies"] == [
        {
            "competency_id": _competency(course, "http-apis"),
            "slug": "http-apis",
            "name": "Designing HTTP APIs",
            "mastery": 0.2,
            "required": 0.4,
        }
    ]
    progress = (await gclient.get(f"/v1/courses/{course['id']}/progress", headers=headers)).json()
    state = next(i for i in progress["items"] if i["item_id"] == quiz["id"])
    assert state["state"] == "locked"
    assert state["missing_prerequisites"] == []
    assert [m["slug"] for m in state["missing_competencies"]] == ["http-apis"]
    task_view = await gclient.get(f"/v1/items/{quiz['id']}/assessment", headers=headers)
    assert task_view.status_code == 409  # the task itself is behind the gate too
    assert task_view.json()["code"] == "gated"
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    task = await assessment(gclient, staff, "http-fundamentals-quiz")
    refused = await gclient.post(
        f"/v1/assessments/{task['id']}/submissions", headers=headers, json={"choices": _right_choices()}
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "gated"

    # The exercise is evidence (half weight): the estimate moves as the equations say, and the gate opens.
    await _complete(gclient, headers, course, "bookmarks-api-design")
    expected = update(HTTP_APIS.prior, True, HTTP_APIS, EXERCISE_WEIGHT)
    mastery = await _mastery(gclient, headers, course["id"])
    assert mastery["http-apis"]["mastery"] == round(expected, 4)
    assert mastery["http-apis"]["attempts"] == 1
    assert mastery["http-apis"]["last_evidence_at"] is not None
    assert (await gclient.get(f"/v1/courses/{course['id']}/items/{quiz['id']}", headers=headers)).status_code == 200
    # Staff preview gated items whatever their mastery.
    assert (await gclient.get(f"/v1/courses/{course['id']}/items/{quiz['id']}", headers=staff)).status_code == 200


async def test_submission_to_a_prerequisite_locked_assessment_is_refused(gclient: Client) -> None:
    headers = await new_learner(gclient, unlock=False)
    review = await assessment(gclient, headers, "schema-review")
    refused = await gclient.post(
        f"/v1/assessments/{review['id']}/submissions", headers=headers, json={"text": "Foreign keys and an index."}
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "locked"
    assert refused.json()["missing_prerequisites"]


async def test_a_grade_counts_once_even_when_redelivered(
    gclient: Client, gworker: Worker[Any], grading_settings: Settings
) -> None:
    headers = await new_learner(gclient, unlock=False)
    course = await course_by_slug(gclient, headers, "backend-foundations")
    await _complete(gclient, headers, course, "http-request-lifecycle", "designing-resources", "bookmarks-api-design")
    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    accepted = await gclient.post(
        f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json={"choices": _right_choices()}
    )
    assert accepted.status_code == 202, accepted.text
    await wait_for(gclient, headers, accepted.json()["id"], "graded")
    after_exercise = update(HTTP_APIS.prior, True, HTTP_APIS, EXERCISE_WEIGHT)
    expected = round(update(after_exercise, True, HTTP_APIS), 4)
    first = await _mastery(gclient, headers, course["id"])
    assert first["http-apis"]["mastery"] == expected
    assert first["http-apis"]["attempts"] == 2

    # Redelivery: the same grade recorded again (a re-run job, a retried decision) appends nothing.
    async with learner_session(gclient, headers) as session:
        submission = await session.get(Submission, uuid.UUID(accepted.json()["id"]))
        assert submission is not None
        grade = await session.scalar(select(Grade).where(Grade.submission_id == submission.id))
        the_assessment = await session.get(Assessment, submission.assessment_id)
        assert grade is not None
        assert the_assessment is not None
        before = await session.scalar(select(func.count()).select_from(ProgressEvent))
        assert await record_grade_progress(session, submission, the_assessment, grade) is None
        assert await record_grade_progress(session, submission, the_assessment, grade) is None
        assert await session.scalar(select(func.count()).select_from(ProgressEvent)) == before
        keys = list(
            await session.scalars(
                select(ProgressEvent.idempotency_key).where(ProgressEvent.type == "assessment.graded")
            )
        )
        assert f"assessment.graded:{grade.id}" in keys
    again = await _mastery(gclient, headers, course["id"])
    assert again == first


async def test_override_that_passes_completes_the_course(gclient: Client, gworker: Worker[Any]) -> None:
    headers = await new_learner(gclient, unlock=False)
    course = await course_by_slug(gclient, headers, "backend-foundations")
    await _done_except(gclient, headers, course, "schema-review")
    review = await assessment(gclient, headers, "schema-review")
    accepted = await gclient.post(
        f"/v1/assessments/{review['id']}/submissions", headers=headers, json={"text": "Foreign keys, checks."}
    )
    assert accepted.status_code == 202, accepted.text
    await wait_for(gclient, headers, accepted.json()["id"], "in_review")  # offline grader: low confidence
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    detail = (await gclient.get(f"/v1/review/submissions/{accepted.json()['id']}", headers=staff)).json()
    item_id = detail["item"]["id"]
    assert (await gclient.post(f"/v1/review/items/{item_id}/claim", headers=staff)).status_code == 200
    body = {"action": "override", "score": detail["item"]["max_score"], "reason": "Complete answer"}
    decided = await gclient.post(f"/v1/review/items/{item_id}/decision", headers=staff, json=body)
    assert decided.status_code == 200, decided.text
    enrollments = (await gclient.get("/v1/enrollments", headers=headers)).json()["items"]
    mine = next(e for e in enrollments if e["course_id"] == course["id"])
    assert mine["status"] == "completed"
    assert mine["completed_at"] is not None
    assert mine["percent"] == 100
    mastery = await _mastery(gclient, headers, course["id"])
    assert mastery["data-modelling"]["attempts"] >= 1


async def _done_except(client: Client, headers: dict[str, str], course: dict[str, Any], left: str) -> None:
    """Every item of the course done (as its events say) except ``left``."""
    from app.db.models import Enrollment
    from app.domain.progress.services import append_progress_event

    async with learner_session(client, headers) as session:
        enrollment = await session.get(Enrollment, uuid.UUID(course["enrollment"]["id"]))
        assert enrollment is not None
        for item in _items(course).values():
            if item["slug"] == left:
                continue
            kind = "item.completed" if item["kind"] != "assessment" else "assessment.passed"
            payload = {"item_id": item["id"], "item_slug": item["slug"], "kind": item["kind"]}
            await append_progress_event(session, enrollment, kind, payload, f"{kind}:{enrollment.id}:{item['id']}")


def _competency(course: dict[str, Any], slug: str) -> str:
    return str(next(c["id"] for c in course["competencies"] if c["slug"] == slug))


async def _snapshot(settings: Settings, org: str) -> bytes:
    """The projections of one org as bytes: every column of every row, sorted (read as the table owner)."""
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            org_id = (await conn.execute(text("select id from organizations where slug = :s"), {"s": org})).scalar()
            tables = {
                "mastery_estimates": "select to_jsonb(t) from mastery_estimates t where org_id = :o",
                "projection_checkpoints": "select to_jsonb(t) from projection_checkpoints t where org_id = :o",
                "enrollments": "select to_jsonb(t) from enrollments t where org_id = :o",
            }
            snapshot = {
                name: sorted(
                    json.dumps(row, sort_keys=True) for row in (await conn.execute(text(q), {"o": org_id})).scalars()
                )
                for name, q in tables.items()
            }
    finally:
        await engine.dispose()
    return json.dumps(snapshot, sort_keys=True).encode()


@pytest.mark.usefixtures("gworker")
async def test_rebuild_reproduces_the_projections_byte_for_byte(gclient: Client, grading_settings: Settings) -> None:
    # Some history first: evidence from exercises and a graded quiz, and a completed course.
    headers = await new_learner(gclient)
    quiz = await assessment(gclient, headers, "http-fundamentals-quiz")
    accepted = await gclient.post(
        f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json={"choices": [0] * len(_right_choices())}
    )
    await wait_for(gclient, headers, accepted.json()["id"], "graded")
    before = await _snapshot(grading_settings, "demo")
    assert b"attempts" in before

    me = (await gclient.get("/v1/me", headers=headers)).json()
    db = Database.from_settings(grading_settings)
    tenant = db.for_tenant(uuid.UUID(me["org_id"]))
    report = await rebuild_projections(tenant)
    assert report.events > 0
    assert report.estimates > 0
    assert report.enrollments_repaired == 0
    assert await _snapshot(grading_settings, "demo") == before
    # Rebuilding twice changes nothing either, and it repairs a damaged projection.
    async with tenant.transaction() as session:
        await session.execute(text("update mastery_estimates set mastery = 0.5, attempts = 99"))
    await rebuild_projections(tenant)
    await db.dispose()
    assert await _snapshot(grading_settings, "demo") == before


async def test_seeded_demo_activity_shows_mastery_and_a_gate(
    gclient: Client, grading_settings: Settings, tmp_path: Path
) -> None:
    """`lyceum seed`'s demo history (content/seed.yaml `activity:`), replayed for a learner of this test."""
    from app.seed import seed, seed_demo_activity

    email = f"demo-{uuid.uuid4().hex[:8]}@demo.test"
    plan = yaml.safe_load((ROOT / "content" / "seed.yaml").read_text(encoding="utf-8"))
    demo = next(o for o in plan["orgs"] if o["slug"] == "demo")
    demo["users"] = [{"email": email, "name": "Dee Demo", "roles": ["learner"]}]
    demo["activity"] = [{**a, "learner": email} for a in demo["activity"]]
    plan["orgs"] = [demo]
    content = tmp_path / "content"
    content.mkdir()
    (content / "courses").symlink_to(ROOT / "content" / "courses")
    (content / "seed.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    settings = dataclasses.replace(grading_settings, content_dir=content)
    await seed(settings)
    assert await seed_demo_activity(settings) == 2
    assert await seed_demo_activity(settings) == 0  # idempotent

    headers = await auth_headers(gclient, email, "demo")
    scalable = await course_by_slug(gclient, headers, "scalable-systems")
    caching = (await _mastery(gclient, headers, scalable["id"]))["caching"]
    caching_params = BKTParams()
    expected = update(caching_params.prior, True, caching_params, EXERCISE_WEIGHT)
    expected = update(update(expected, False, caching_params), True, caching_params)
    assert caching["attempts"] == 3
    assert caching["mastery"] == round(expected, 4)
    backend = await course_by_slug(gclient, headers, "backend-foundations")
    progress = (await gclient.get(f"/v1/courses/{backend['id']}/progress", headers=headers)).json()
    quiz = _items(backend)["http-fundamentals-quiz"]
    state = next(i for i in progress["items"] if i["item_id"] == quiz["id"])
    assert state["state"] == "locked"
    assert [m["slug"] for m in state["missing_competencies"]] == ["http-apis"]


async def test_projections_rebuild_command(grading_settings: Settings, seeded: Any) -> None:
    """What `lyceum projections rebuild [--org SLUG]` runs: one report per org; an unknown org is an error."""
    from app.cli import _rebuild_projections, build_parser

    args = build_parser().parse_args(["projections", "rebuild", "--org", "demo"])
    assert (args.projections_command, args.org) == ("rebuild", "demo")
    reports = await _rebuild_projections(grading_settings, "demo")
    assert set(reports) == {"demo"}
    assert reports["demo"].events >= reports["demo"].streams >= 0
    with pytest.raises(LookupError, match="no organisation"):
        await _rebuild_projections(grading_settings, "no-such-org")


async def test_mastery_rows_are_invisible_to_another_org(gclient: Client) -> None:
    """Row-level security on the projection: an acme learner's transaction sees no demo estimates."""
    from app.db.models import MasteryEstimate, ProjectionCheckpoint

    headers = await new_learner(gclient)  # unlocking completes exercises: this learner has estimates
    demo_user = uuid.UUID((await gclient.get("/v1/me", headers=headers)).json()["user_id"])
    async with learner_session(gclient, headers) as session:
        assert await session.scalar(select(func.count()).where(MasteryEstimate.user_id == demo_user))
    acme = await auth_headers(gclient, "learner@acme.test", "acme")
    acme_org = (await gclient.get("/v1/me", headers=acme)).json()["org_id"]
    async with learner_session(gclient, acme) as session:
        assert await session.scalar(select(func.count()).where(MasteryEstimate.user_id == demo_user)) == 0
        for model in (MasteryEstimate, ProjectionCheckpoint):
            orgs = set(await session.scalars(select(model.org_id).distinct()))
            assert orgs <= {uuid.UUID(acme_org)}
