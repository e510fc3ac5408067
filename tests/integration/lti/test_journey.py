"""Issue 14's "Done when", as one journey against the real app: an LMS admin registers the platform through the
admin contract; an instructor deep-links an assessment; the LMS verifies the signed answer and builds a
resource link from the content item; a new learner launches it, lands on that assessment, submits the quiz
(graded without a human) and the LMS gradebook receives the score over AGS.

The LMS is the loopback test platform (tests/support/lti: launch, token endpoint, AGS); the API is the
Litestar test client; grading and the score post run on an in-process SAQ worker. Two variants: the LMS
creates the line item from the content item and names it in the launch (as Canvas and Moodle do), or it
names none and the tool creates it on demand. Every wait is on a condition with a generous deadline."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from saq import Worker

from app.lib.lti import claims as c
from app.lib.lti.deeplink import CLAIM, DL_CLAIM
from app.server.components import components_of
from tests.support.databases import owner_sql
from tests.support.grading import Client, assessment_spec, wait_for
from tests.support.lti.platform import INSTRUCTOR, LEARNER, TestPlatform
from tests.support.lti.server import PlatformServer
from tests.support.lti.services import (
    LINEITEM_TYPE,
    SCOPE_LINEITEM,
    SCOPE_SCORE,
    SCORE_TYPE,
    PlatformServices,
    ScoreRecord,
)
from tests.support.progress import open_assessments_of
from tests.support.stack import auth_headers

QUIZ = "http-fundamentals-quiz"  # auto-graded: no model, no reviewer
COURSE = "backend-foundations"
AGS_SCOPES = [SCOPE_LINEITEM, SCOPE_SCORE, "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"]
REGISTRATION_FIELDS = ("issuer", "client_id", "auth_login_url", "auth_token_url", "key_set_url", "deployment_ids")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DEADLINE_S = 120  # bounds a failure only: a passing run returns as soon as the score arrives


async def wait_for_scores(services: PlatformServices, context: str) -> list[ScoreRecord]:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if scores := services.scores(context):
            return scores
        await asyncio.sleep(0.1)
    raise AssertionError(f"the platform got no score for {context} (token refusals: {services.refused_assertions})")


async def quiz_item(settings: Any) -> tuple[uuid.UUID, uuid.UUID]:
    rows = await owner_sql(
        settings,
        "select i.id, i.course_id from items i join organizations o on o.id = i.org_id "
        "join courses c on c.id = i.course_id where o.slug = 'demo' and c.slug = :course and i.slug = :slug",
        {"course": COURSE, "slug": QUIZ},
    )
    return uuid.UUID(str(rows[0][0])), uuid.UUID(str(rows[0][1]))


@pytest.mark.parametrize("lms_creates_lineitem", [True, False], ids=["lineitem-from-content-item", "on-demand"])
async def test_register_deep_link_launch_submit_and_the_gradebook_hears_it(
    lsclient: Client, lsworker: Worker[Any], platform_server: PlatformServer, lms_creates_lineitem: bool
) -> None:
    settings = components_of(lsclient.app).settings
    lms = TestPlatform(server=platform_server, tool_url=settings.base_url, name="Journey LMS")
    tool_jwks = (await lsclient.get("/lti/jwks.json")).json()  # what the LMS fetches from the tool
    services = PlatformServices(platform_server, lms.client_id, lambda: tool_jwks)

    # 1. The org admin registers the LMS through the admin contract.
    admin = await auth_headers(lsclient, "admin@demo.test", "demo")
    body = {
        "issuer": lms.issuer,
        "client_id": lms.client_id,
        "auth_login_url": lms.auth_login_url,
        "auth_token_url": services.token_url,
        "key_set_url": lms.key_set_url,
        "deployment_ids": [lms.deployment_id],
        "name": lms.name,
    }
    created = await lsclient.post("/v1/admin/lti/platforms", json=body, headers=admin)
    assert created.status_code == 201, created.text
    registration = created.json()
    assert {k: registration[k] for k in REGISTRATION_FIELDS} == {k: body[k] for k in REGISTRATION_FIELDS}
    assert registration["name"] == lms.name
    assert registration["registered_by"] == "admin"
    lms.id = uuid.UUID(registration["id"])

    context_id = f"ctx-{secrets.token_hex(4)}"
    services.add_context(context_id)
    context = {"id": context_id, "title": "Web APIs 201", "label": "WEB201"}

    # 2. An instructor deep-links the quiz.
    teacher = await lms.launch(
        lsclient,
        sub=f"teacher-{secrets.token_hex(4)}",
        roles=[INSTRUCTOR],
        message_type=c.DEEP_LINKING_REQUEST,
        context=context,
        deep_linking={
            "deep_link_return_url": f"{lms.issuer}/deep-link-return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": False,
            "accept_lineitem": True,
            "data": "journey-data",
        },
    )
    assert teacher["target"]["kind"] == "deep_link"
    assert teacher["platform"] == {"id": str(lms.id), "name": lms.name}
    dl_id = teacher["target"]["deep_link_id"]
    teacher_headers = {"Authorization": f"Bearer {teacher['access_token']}"}
    picker = await lsclient.get(f"/v1/lti/deep-linking/{dl_id}", headers=teacher_headers)
    assert picker.status_code == 200, picker.text
    quiz_id, course_id = await quiz_item(settings)
    answer = await lsclient.post(
        f"/v1/lti/deep-linking/{dl_id}/response",
        json={"items": [{"kind": "item", "id": str(quiz_id)}]},
        headers=teacher_headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["return_url"] == f"{lms.issuer}/deep-link-return"

    # The LMS verifies the answer as a platform must: signature against the tool's published keys, then the
    # claims a lenient platform library skips (aud, iss, nonce, deployment).
    verified = jwt.decode(answer.json()["jwt"], KeySet.import_key_set(tool_jwks), algorithms=["RS256"]).claims
    assert verified["iss"] == lms.client_id
    assert verified["aud"] in (lms.issuer, [lms.issuer])
    assert isinstance(verified["nonce"], str)
    assert len(verified["nonce"]) >= 16
    assert verified[CLAIM + "deployment_id"] == lms.deployment_id
    assert verified[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert verified[DL_CLAIM + "data"] == "journey-data"
    assert verified["iat"] <= time.time() + 60 < verified["exp"] + 60
    (content,) = verified[DL_CLAIM + "content_items"]
    assert content["type"] == "ltiResourceLink"
    assert content["custom"] == {"lyceum_item_id": str(quiz_id)}
    maximum = content["lineItem"]["scoreMaximum"]
    assert isinstance(maximum, int | float)
    assert maximum > 0

    # The LMS takes the content item: a resource link carrying its custom parameters, and (variant) a line item.
    link_id = f"rl-{secrets.token_hex(4)}"
    ags: dict[str, Any] = {"scope": AGS_SCOPES, "lineitems": services.lineitems_url(context_id)}
    if lms_creates_lineitem:
        given = services.add_lineitem(context_id, {**content["lineItem"], "resourceLinkId": link_id})
        ags["lineitem"] = given.url

    # 3. A learner the tool has never seen launches that link.
    learner_sub = f"learner-{secrets.token_hex(4)}"
    learner = await lms.launch(
        lsclient,
        sub=learner_sub,
        roles=[LEARNER],
        context=context,
        resource_link={"id": link_id, "title": content.get("title", "Quiz")},
        custom=content["custom"],
        ags=ags,
    )
    assert learner["user"]["role"] == "learner"
    assert learner["target"] == {**learner["target"], "kind": "item", "item_id": str(quiz_id)}
    assert learner["target"]["course_id"] == str(course_id)
    learner_headers = {"Authorization": f"Bearer {learner['access_token']}"}

    # The launch enrolled the learner; the quiz sits behind the course's earlier items, opened here as a
    # learner who had worked through them (progress events, not an LTI concern).
    email = (await owner_sql(settings, "select email from users where id = :id", {"id": learner["user"]["id"]}))[0][0]
    await open_assessments_of(settings, str(email), COURSE)

    # 4. The learner submits the quiz with the session's token, one answer wrong so the fraction is not 1.
    quiz = (await lsclient.get(f"/v1/items/{quiz_id}/assessment", headers=learner_headers)).json()
    choices = [q["answer"] for q in assessment_spec(QUIZ)["questions"]]
    choices[0] = (choices[0] + 1) % 2
    accepted = await lsclient.post(
        f"/v1/assessments/{quiz['id']}/submissions", headers=learner_headers, json={"choices": choices}
    )
    assert accepted.status_code == 202, accepted.text
    graded = await wait_for(lsclient, learner_headers, accepted.json()["id"], "graded", deadline_s=DEADLINE_S)
    fraction = graded["score"] / graded["max_score"]
    assert 0 <= fraction < 1

    # 5. The gradebook hears it.
    (score,) = await wait_for_scores(services, context_id)
    (lineitem,) = services.lineitems[context_id]
    created_lineitems = platform_server.requests(f"/ags/{context_id}/lineitems", method="POST")
    if lms_creates_lineitem:
        assert lineitem is given
        assert created_lineitems == []  # used as given
    else:
        (posted,) = created_lineitems  # created on demand, once
        assert posted.headers["content-type"].startswith(LINEITEM_TYPE)
        assert posted.json()["resourceLinkId"] == link_id
        assert posted.json()["scoreMaximum"] == maximum
    line_maximum = lineitem.body["scoreMaximum"]
    assert score.lineitem == lineitem.url
    assert score.content_type.startswith(SCORE_TYPE)
    assert score.body["userId"] == learner_sub
    assert score.body["activityProgress"] == "Completed"
    assert score.body["gradingProgress"] == "FullyGraded"
    assert score.body["scoreMaximum"] == line_maximum
    assert 0 <= score.body["scoreGiven"] <= score.body["scoreMaximum"]
    assert score.body["scoreGiven"] == pytest.approx(fraction * line_maximum, abs=1e-4)
    assert TIMESTAMP.match(score.body["timestamp"]), score.body["timestamp"]
    assert services.refused_assertions == []
