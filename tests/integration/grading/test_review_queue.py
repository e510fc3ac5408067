"""The human review queue: leases, decisions, the audit trail, AI-human pairs, metrics and exports."""

from __future__ import annotations

import json
from typing import Any

from saq import Worker

from tests.support.grading import Client, assessment, new_learner, wait_for
from tests.support.stack import auth_headers

ANSWER = "Add a foreign key on order_lines.order_id, check quantity > 0 and index orders by customer."


async def _escalated(client: Client) -> tuple[dict[str, str], dict[str, Any]]:
    """A learner's short answer, graded offline with low confidence: it waits in the queue."""
    headers = await new_learner(client)
    review = await assessment(client, headers, "schema-review")
    accepted = await client.post(f"/v1/assessments/{review['id']}/submissions", headers=headers, json={"text": ANSWER})
    await wait_for(client, headers, accepted.json()["id"], "in_review")
    staff = await auth_headers(client, "instructor@demo.test", "demo")
    detail = (await client.get(f"/v1/review/submissions/{accepted.json()['id']}", headers=staff)).json()
    return headers, detail


async def test_queue_is_ordered_by_priority_then_deadline(gclient: Client, gworker: Worker[Any]) -> None:
    await _escalated(gclient)
    await _escalated(gclient)
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    items = (await gclient.get("/v1/review/queue", headers=staff, params={"limit": 100})).json()["items"]
    keys = [(i["priority"], i["sla_due_at"]) for i in items]
    assert keys == sorted(keys)
    learner = await new_learner(gclient)
    assert (await gclient.get("/v1/review/queue", headers=learner)).status_code == 403


async def test_override_is_audited_paired_and_measured(gclient: Client, gworker: Worker[Any]) -> None:
    learner, detail = await _escalated(gclient)
    item_id, submission_id = detail["item"]["id"], detail["item"]["submission_id"]
    assert detail["answer"] == {"text": ANSWER}
    assert detail["spec"]["rubric"]["criteria"]  # the reviewer sees the full rubric
    assert detail["ai_criteria"]  # and the AI's rationale per criterion
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    admin = await auth_headers(gclient, "admin@demo.test", "demo")

    # Deciding without a claim, a learner claiming, and someone else's live lease are all refused.
    decide = f"/v1/review/items/{item_id}/decision"
    assert (await gclient.post(decide, headers=staff, json={"action": "accept"})).status_code == 409
    assert (await gclient.post(f"/v1/review/items/{item_id}/claim", headers=learner)).status_code == 403
    claimed = await gclient.post(f"/v1/review/items/{item_id}/claim", headers=staff)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["lease_expires_at"] is not None
    assert (await gclient.post(f"/v1/review/items/{item_id}/claim", headers=admin)).status_code == 409
    assert (await gclient.post(decide, headers=admin, json={"action": "accept"})).status_code == 409

    no_reason = await gclient.post(decide, headers=staff, json={"action": "override", "score": 5})
    assert no_reason.status_code == 422
    assert any(e["pointer"] == "#/reason" for e in no_reason.json()["errors"])
    too_high = await gclient.post(decide, headers=staff, json={"action": "override", "score": 999, "reason": "x"})
    assert too_high.status_code == 422

    body = {"action": "override", "score": 7, "feedback": "Good catch on the foreign key.", "reason": "AI too harsh"}
    decided = await gclient.post(decide, headers=staff, json=body)
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"] == "override"
    assert (await gclient.post(decide, headers=staff, json=body)).status_code == 409  # decided once

    graded = await wait_for(gclient, learner, submission_id, "graded")
    assert graded["score"] == 7
    assert graded["graded_by"] == "human"
    assert graded["feedback"] == "Good catch on the foreign key."

    audit = (await gclient.get("/v1/audit-log", headers=admin, params={"limit": 50})).json()["items"]
    entry = next(a for a in audit if a["action"] == "review.override" and a["entity_id"] == submission_id)
    assert entry["before"]["status"] == "in_review"
    assert entry["after"]["score"] == 7

    metrics = (await gclient.get("/v1/review/metrics", headers=staff)).json()
    assert metrics["exact_agreement"] is not None
    assert metrics["median_minutes_to_review"] is not None
    assert any(a["key"] == "offline-keywords-1" and a["pairs"] >= 1 for a in metrics["by_prompt_version"])
    assert any(a["pairs"] >= 1 for a in metrics["by_assessment"])

    export = await gclient.get("/v1/review/corrections.jsonl", headers=staff)
    assert export.status_code == 200
    lines = [json.loads(line) for line in export.text.splitlines()]
    mine = next(line for line in lines if line["submission_id"] == submission_id)
    assert mine["human_score"] == 7
    assert mine["answer"] == {"text": ANSWER}


async def test_accepting_keeps_the_ai_grade(gclient: Client, gworker: Worker[Any]) -> None:
    learner, detail = await _escalated(gclient)
    staff = await auth_headers(gclient, "instructor@demo.test", "demo")
    item_id = detail["item"]["id"]
    await gclient.post(f"/v1/review/items/{item_id}/claim", headers=staff)
    decided = await gclient.post(f"/v1/review/items/{item_id}/decision", headers=staff, json={"action": "accept"})
    assert decided.status_code == 200, decided.text
    graded = await wait_for(gclient, learner, detail["item"]["submission_id"], "graded")
    assert graded["graded_by"] == "ai"
    assert graded["score"] == detail["item"]["ai_score"]


def test_kappa_and_agreement() -> None:
    from app.domain.review.metrics import cohens_kappa, exact_agreement

    assert exact_agreement([(1.0, 1.0), (2.0, 3.0)]) == 0.5
    assert cohens_kappa([("pass", "pass"), ("fail", "fail")]) == 1.0
    assert cohens_kappa([("pass", "fail"), ("fail", "pass")]) == -1.0
    labels = [("pass", "pass")] * 20 + [("pass", "fail")] * 5 + [("fail", "pass")] * 10 + [("fail", "fail")] * 15
    assert cohens_kappa(labels) == 0.4  # the textbook example: p_o 0.7, p_e 0.5
    assert cohens_kappa([]) is None
