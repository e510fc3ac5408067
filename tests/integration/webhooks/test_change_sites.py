"""Each change writes its webhook event from its own place, in its own transaction: a course completing
(``course.completed``), its credential issued and revoked (``credential.issued``, ``credential.revoked``),
a person provisioned on first sign-in through an LMS (``user.provisioned``, and ``enrollment.created``
through an LMS), and a final grade (``assessment.graded``, and a pass's ``item.completed``). SSO's first
sign-in (``ensure_sso_user``) and a reviewer's decision (``ReviewService.decide``: ``review.decided``) call
the same ``record_event``; enrolment and item completion through the API are in test_outbox.py."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text

from app.config import Settings
from app.db.engine import Database
from app.db.models import Assessment, Enrollment, Grade, Item, LtiPlatform, Submission, WebhookEvent
from app.domain.credentials.issuance import IssuanceService
from app.domain.lti.provisioning import LtiPerson, ensure_user, set_enrollment
from app.domain.progress.completion import record_grade_progress
from app.domain.progress.services import append_progress_events, complete_course_if_finished
from tests.integration.webhooks.conftest import Client
from tests.support.accounts import bearer, new_member
from tests.support.stack import login
from tests.support.webhooks import Receiver

LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


@pytest.fixture(scope="module")
async def hook(client: Client, demo_admin: dict[str, str], receiver: Receiver, db: Database) -> dict[str, Any]:
    response = await client.post(
        "/v1/admin/webhooks",
        headers=demo_admin,
        json={
            "url": receiver.url("/sites"),
            "events": [
                "enrollment.created",
                "course.completed",
                "credential.issued",
                "credential.revoked",
                "user.provisioned",
            ],
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def lock_holders(db: Database) -> str:
    """What the database is doing (every other backend in a transaction, with the locks it holds or waits for
    on webhook tables): runs of the whole suite saw the endpoint change below wait 30 s for a row lock, then
    503, and a snapshot taken after the wait named no holder; this one is taken while the change waits."""
    async with db.transaction(None) as session:
        rows = await session.execute(
            text(
                "select a.pid, a.pid = pg_backend_pid() as me, a.state, now() - a.xact_start as age,"
                " pg_blocking_pids(a.pid) as blocked_by, left(a.query, 160) as query,"
                " (select string_agg(l.mode || case when l.granted then '' else ' (waiting)' end || ' on '"
                "   || coalesce(l.relation::regclass::text, l.locktype), ', ') from pg_locks l"
                "   where l.pid = a.pid and (l.relation::regclass::text like 'webhook%' or l.locktype = 'transactionid'"
                "   or not l.granted)) as locks"
                " from pg_stat_activity a where a.datname = current_database() and a.xact_start is not null"
            )
        )
        return "\n".join(str(tuple(row)) for row in rows)


async def patch_watched(client: Client, db: Database, url: str, headers: dict[str, str], body: Any) -> Any:
    """``client.patch``, and a snapshot of the database's transactions if the answer takes over 5 s (it
    should take milliseconds); the snapshot only explains a failure, it decides nothing."""
    request = asyncio.ensure_future(client.patch(url, headers=headers, json=body))
    done, _ = await asyncio.wait({request}, timeout=5)
    snapshot = "" if done else await lock_holders(db)
    response = await request
    return response, snapshot


async def events_of(db: Database, org: uuid.UUID, user_id: str) -> list[WebhookEvent]:
    async with db.transaction(org) as session:
        return list(
            await session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.data["user_id"].astext == user_id)
                .order_by(WebhookEvent.created_at)
            )
        )


async def test_course_completion_and_its_credential_issued_and_revoked(
    client: Client,
    demo_admin: dict[str, str],
    hook: dict[str, Any],
    db: Database,
    demo_org: uuid.UUID,
    settings: Settings,
) -> None:
    member = await new_member(client)
    headers = bearer(await login(client, member["email"], "demo", member["password"]))
    course_id = (await client.get("/v1/courses", headers=headers)).json()["items"][0]["id"]
    enrolled = await client.post(f"/v1/courses/{course_id}/enrollments", headers=headers)
    assert enrolled.status_code == 201
    enrollment_id = uuid.UUID(enrolled.json()["id"])
    async with db.transaction(demo_org) as session:  # every item done, as the learner and the grader would
        enrollment = await session.get(Enrollment, enrollment_id)
        assert enrollment is not None
        items = list(await session.scalars(select(Item).where(Item.course_id == enrollment.course_id)))
        appends = [
            (
                "assessment.passed" if item.kind == "assessment" else "item.completed",
                {"item_id": str(item.id), "kind": item.kind},
                f"done:{enrollment_id}:{item.id}",
            )
            for item in items
        ]
        await append_progress_events(session, enrollment, appends)
        assert await complete_course_if_finished(session, enrollment, None)
    issued = await IssuanceService(db, settings).issue(demo_org, enrollment_id)
    assert issued.outcome == "issued", issued
    revoked = await client.post(
        f"/v1/admin/credentials/{issued.credential_id}/revoke", headers=demo_admin, json={"reason": "issued in error"}
    )
    assert revoked.status_code == 200, revoked.text
    events = await events_of(db, demo_org, member["id"])
    assert [e.type for e in events] == [
        "enrollment.created",
        "course.completed",
        "credential.issued",
        "credential.revoked",
    ]
    completed, credential, revocation = events[1].data, events[2].data, events[3].data
    assert completed["enrollment_id"] == str(enrollment_id)
    assert completed["completed_at"]
    assert credential == {"credential_id": str(issued.credential_id), "course_id": course_id, "user_id": member["id"]}
    assert revocation == {**credential, "reason": "issued in error"}


async def test_an_lms_launch_provisions_and_enrols_with_events(
    hook: dict[str, Any], db: Database, demo_org: uuid.UUID
) -> None:
    person = LtiPerson(sub=f"lms-{uuid.uuid4().hex}", name="Lee Lms", roles=(LEARNER_ROLE,))
    async with db.transaction(demo_org) as session:
        platform = LtiPlatform(
            org_id=demo_org,
            name="webhook test LMS",
            issuer=f"https://lms-{uuid.uuid4().hex[:8]}.example.edu",
            client_id="webhooks",
            auth_login_url="https://lms.example.edu/auth",
            auth_token_url="https://lms.example.edu/token",
            key_set_url="https://lms.example.edu/jwks",
            deployment_ids=["1"],
            registered_by="admin",
            extra={},
        )
        session.add(platform)
        await session.flush()
        provisioned = await ensure_user(session, platform, person)
        course_id = (await session.scalars(select(Enrollment.course_id).limit(1))).first()
        assert course_id is not None
        await set_enrollment(session, demo_org, provisioned.user_id, course_id, active=True)
    async with db.transaction(demo_org) as session:  # the same person again: nothing new
        again = await session.get(LtiPlatform, platform.id)
        assert again is not None
        assert not (await ensure_user(session, again, person)).created
    events = await events_of(db, demo_org, str(provisioned.user_id))
    assert [e.type for e in events] == ["user.provisioned", "enrollment.created"]
    assert events[0].data == {"user_id": str(provisioned.user_id), "role": "learner", "source": "lti"}
    async with db.transaction(demo_org) as session:
        await session.delete(await session.get(LtiPlatform, platform.id))


async def test_a_final_grade_writes_assessment_graded_and_the_pass_item_completed(
    client: Client, hook: dict[str, Any], demo_admin: dict[str, str], db: Database, demo_org: uuid.UUID
) -> None:
    """``record_grade_progress`` (the grading worker's and a reviewer's one way to tell progress about a grade)
    writes ``assessment.graded`` with the grade, and a pass completes the item, in the grade's transaction."""
    changed, snapshot = await patch_watched(
        client,
        db,
        f"/v1/admin/webhooks/{hook['id']}",
        demo_admin,
        {"events": ["enrollment.created", "item.completed", "assessment.graded"]},
    )
    assert changed.status_code == 200, f"{changed.text}\n{snapshot}"
    member = await new_member(client)
    headers = bearer(await login(client, member["email"], "demo", member["password"]))
    async with db.transaction(demo_org) as session:
        assessment = (await session.scalars(select(Assessment).limit(1))).one()
    enrolled = await client.post(f"/v1/courses/{assessment.course_id}/enrollments", headers=headers)
    assert enrolled.status_code == 201
    user_id = uuid.UUID(member["id"])
    async with db.transaction(demo_org) as session:
        submission = Submission(
            org_id=demo_org, assessment_id=assessment.id, user_id=user_id, status="graded", answer={}
        )
        session.add(submission)
        await session.flush()
        grade = Grade(
            org_id=demo_org, submission_id=submission.id, score=9, max_score=10, passed=True, graded_by="auto"
        )
        session.add(grade)
        await session.flush()
        graded = await record_grade_progress(session, submission, assessment, grade)
        assert graded is not None
        assert await record_grade_progress(session, submission, assessment, grade) is None  # the same grade again
    events = await events_of(db, demo_org, member["id"])
    # Deliveries are not ordered (docs/webhooks.md): which of the two is written first does not matter.
    by_type = {e.type: e.data for e in events}
    assert sorted(by_type) == ["assessment.graded", "enrollment.created", "item.completed"]
    assert len(events) == 3
    assert by_type["assessment.graded"]["grade_id"] == str(grade.id)
    assert by_type["assessment.graded"]["passed"] is True
    assert by_type["item.completed"]["kind"] == "assessment"
    assert by_type["item.completed"]["item_id"] == str(assessment.item_id)
