"""A reviewer's decision writes ``review.decided`` to the outbox with the decision (``ReviewService.decide``),
through the real API: a submission waiting in the review queue (put there as grading's escalation does, via
the review policy), claimed and overridden by an instructor. A refused decision (accepting an AI grade that
does not exist) rolls back and writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from app.db.engine import Database
from app.db.models import Assessment, ReviewItem, Submission, WebhookEvent
from app.domain.review.queue import ReviewQueuePolicy
from tests.integration.webhooks.conftest import Client
from tests.support.accounts import bearer, new_member
from tests.support.stack import auth_headers, login
from tests.support.webhooks import Receiver


@pytest.fixture(scope="module")
async def hook(
    client: Client, demo_admin: dict[str, str], receiver: Receiver, db: Database
) -> AsyncIterator[dict[str, Any]]:
    response = await client.post(
        "/v1/admin/webhooks", headers=demo_admin, json={"url": receiver.url("/reviews"), "events": ["review.decided"]}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    yield body
    await client.delete(f"/v1/admin/webhooks/{body['id']}", headers=demo_admin)


async def _waiting_for_review(client: Client, db: Database, demo_org: uuid.UUID) -> tuple[ReviewItem, Submission]:
    """A learner's submission of a short-answer assessment, escalated with no AI grade (a grader error)."""
    member = await new_member(client)
    headers = bearer(await login(client, member["email"], "demo", member["password"]))
    async with db.transaction(demo_org) as session:
        assessment = (await session.scalars(select(Assessment).where(Assessment.kind == "short_answer").limit(1))).one()
    enrolled = await client.post(f"/v1/courses/{assessment.course_id}/enrollments", headers=headers)
    assert enrolled.status_code == 201, enrolled.text
    async with db.transaction(demo_org) as session:
        submission = Submission(
            org_id=demo_org,
            assessment_id=assessment.id,
            user_id=uuid.UUID(member["id"]),
            status="in_review",
            answer={"text": "A foreign key on order_lines.order_id."},
        )
        session.add(submission)
        await session.flush()
        item = ReviewQueuePolicy(sla_hours=48.0).open(submission, assessment, "grader_error")
        session.add(item)
    return item, submission


async def _decided_events(db: Database, demo_org: uuid.UUID, submission_id: uuid.UUID) -> list[WebhookEvent]:
    async with db.transaction(demo_org) as session:
        return list(
            await session.scalars(
                select(WebhookEvent).where(
                    WebhookEvent.type == "review.decided",
                    WebhookEvent.data["submission_id"].astext == str(submission_id),
                )
            )
        )


async def test_a_review_decision_writes_review_decided(
    client: Client, hook: dict[str, Any], db: Database, demo_org: uuid.UUID
) -> None:
    item, submission = await _waiting_for_review(client, db, demo_org)
    staff = await auth_headers(client, "instructor@demo.test", "demo")
    me = (await client.get("/v1/me", headers=staff)).json()
    claimed = await client.post(f"/v1/review/items/{item.id}/claim", headers=staff)
    assert claimed.status_code == 200, claimed.text

    decide = f"/v1/review/items/{item.id}/decision"
    refused = await client.post(decide, headers=staff, json={"action": "accept"})  # there is no AI grade
    assert refused.status_code == 409, refused.text
    assert await _decided_events(db, demo_org, submission.id) == []  # rolled back with the refusal

    body = {"action": "override", "score": 2, "feedback": "Name the index too.", "reason": "grader error"}
    decided = await client.post(decide, headers=staff, json=body)
    assert decided.status_code == 200, decided.text
    assert (await client.post(decide, headers=staff, json=body)).status_code == 409  # decided once

    [event] = await _decided_events(db, demo_org, submission.id)
    assert event.org_id == demo_org
    assert event.data == {
        "submission_id": str(submission.id),
        "reviewer_id": me["user_id"],
        "decision": "override",
        "score": 2.0,
    }
