"""Issuance end to end (issue 13 §2): a real completion (the lesson through the API, the quiz through the
grading job) issues one Open Badges 3.0 credential, signed both ways, through the ``issue_credential`` job.

The VC-JWT is checked with joserfc directly against the org's published JWKS; the Data Integrity proof after
a JSON-LD expand/compact round trip. Re-running the job, issuing twice and racing two issues add nothing; a
credential that fails the schema is a dead letter, never stored. The learner's list, the public share data
and the baked badge follow. Every wait is on a condition."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from saq import Worker
from saq.job import TERMINAL_STATUSES
from sqlalchemy import func, select

from app.config import Settings
from app.db.engine import Database
from app.db.models import Credential, DeadLetter
from app.domain.credentials.enqueue import enqueue_issue_credential
from app.domain.credentials.issuance import IssuanceService
from app.lib.jobs import create_queue, credential_job_key
from app.lib.vc.baking import unbake_svg
from app.lib.vc.integrity import verify_proof
from app.lib.vc.jsonld import compact, expand
from app.lib.vc.keys import public_key_from_jwk
from app.lib.vc.schema import schema_errors
from tests.support.credentials import (
    complete_small_course,
    course_outline,
    load_small_course,
    wait_for_credentials,
)
from tests.support.databases import owner_sql
from tests.support.grading import Client, new_learner
from tests.support.stack import auth_headers

pytestmark = pytest.mark.usefixtures("gworker")
COURSE = "credential-mini"
BROKEN = "credential-broken"


@pytest.fixture(scope="module")
async def small_courses(gclient: Client, grading_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("courses")
    await load_small_course(grading_settings, "demo", COURSE, "Credential Mini Course", tmp)
    await load_small_course(grading_settings, "demo", BROKEN, "Broken Credential Course", tmp)
    # Forced past the loader (which never writes an empty narrative): an Achievement without criteria.
    await owner_sql(
        grading_settings,
        "update courses set extra = jsonb_set(extra, '{credential,criteria}', '\"\"') where slug = :s",
        {"s": BROKEN},
    )


@pytest.fixture(scope="module")
async def issued(gclient: Client, small_courses: None) -> dict[str, Any]:
    """One learner who completed the small course for real, with the credential the worker issued."""
    headers = await new_learner(gclient, enrol=None)
    outline = await complete_small_course(gclient, headers, COURSE)
    [item] = await wait_for_credentials(gclient, headers)
    me = (await gclient.get("/v1/me", headers=headers)).json()
    return {"headers": headers, "item": item, "outline": outline, "me": me}


async def _jwks(client: Client) -> dict[str, Any]:
    """The org's JWKS as outsiders fetch it: over HTTP, no sign-in."""
    published = await client.get("/orgs/demo/jwks.json")
    assert published.status_code == 200, published.text
    body: dict[str, Any] = published.json()
    return body


async def test_completion_issues_a_credential_listed_for_the_learner(issued: dict[str, Any]) -> None:
    item, outline = issued["item"], issued["outline"]
    credential = item["credential"]
    assert item["course_id"] == outline["id"]
    assert item["status"] == "active"
    assert item["revoked_at"] is None
    assert item["revocation_reason"] == ""
    assert item["share_url"] == credential["id"]
    assert item["share_url"].endswith(f"/credentials/{item['id']}")
    assert item["course_title"] == "Credential Mini Course" == item["achievement_name"]
    assert item["issuer_name"] == credential["issuer"]["name"]
    assert item["image"].startswith("data:image/svg+xml;base64,")  # the generated badge
    assert item["display_name"] == ""
    assert item["linkedin_url"].startswith("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME")
    assert "certId=" + item["id"] in item["linkedin_url"]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["criteria"]["narrative"].startswith("Read the lesson on idempotent consumers")
    assert achievement["id"].endswith(f"/orgs/demo/achievements/{COURSE}")
    [alignment] = achievement["alignment"]
    assert (alignment["targetCode"], alignment["targetName"]) == ("idempotency", "Idempotent consumers")
    subject = credential["credentialSubject"]
    assert subject["id"].startswith("urn:uuid:")
    [identity] = subject["identifier"]
    assert identity["type"] == "IdentityObject"
    assert identity["hashed"] is True
    assert identity["identityHash"].startswith("sha256$")
    assert issued["me"]["email"] not in str(credential)
    assert credential["credentialStatus"]["type"] == "BitstringStatusListEntry"
    valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
    valid_until = datetime.fromisoformat(credential["validUntil"].replace("Z", "+00:00"))
    assert (valid_until - valid_from).days == 30  # valid_for_days of the course file
    assert schema_errors(credential) == []


async def test_the_vc_jwt_verifies_against_the_published_jwks(
    issued: dict[str, Any], gclient: Client, grading_settings: Settings
) -> None:
    item = issued["item"]
    credential = item["credential"]
    jwks = await _jwks(gclient)
    token = jose_jwt.decode(item["jwt"], KeySet.import_key_set(jwks), algorithms=["EdDSA"])  # type: ignore[arg-type]
    assert token.header["alg"] == "EdDSA"
    assert token.header["kid"] == credential["proof"][0]["verificationMethod"]
    claims = token.claims
    assert claims["iss"] == credential["issuer"]["id"]
    assert claims["sub"] == credential["credentialSubject"]["id"]
    assert claims["jti"] == credential["id"]
    assert claims["nbf"] == int(datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00")).timestamp())
    assert claims["credentialSubject"] == credential["credentialSubject"]
    assert "proof" not in claims


async def test_the_data_integrity_proof_survives_a_json_ld_round_trip(
    issued: dict[str, Any], gclient: Client, grading_settings: Settings
) -> None:
    credential = issued["item"]["credential"]
    jwks = await _jwks(gclient)
    keys = {k["kid"]: public_key_from_jwk(k) for k in jwks["keys"]}
    assert credential["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    round_tripped = compact(expand(credential), credential["@context"])
    check = verify_proof(round_tripped, keys.get)
    assert check.passed, check.detail
    tampered = {**credential, "validFrom": "2001-01-01T00:00:00Z"}
    assert not verify_proof(tampered, keys.get).passed


async def test_lyceum_verifies_both_forms(issued: dict[str, Any], gclient: Client) -> None:
    item = issued["item"]
    for body in ({"credential": item["credential"]}, {"jwt": item["jwt"]}):
        report = (await gclient.post("/v1/credentials/verify", json=body)).json()
        assert report["verified"] is True, report
        assert all(check["passed"] for check in report["checks"]), report


async def test_issuing_again_issues_nothing_new(
    issued: dict[str, Any], gclient: Client, grading_settings: Settings
) -> None:
    org_id = uuid.UUID(issued["me"]["org_id"])
    db = Database.from_settings(grading_settings)
    try:
        async with db.transaction(org_id) as session:
            enrollment_id = await session.scalar(
                select(Credential.enrollment_id).where(Credential.id == uuid.UUID(issued["item"]["id"]))
            )
        assert enrollment_id is not None
        service = IssuanceService(db, grading_settings)
        # The job once more, through the queue: it finds the credential and stops.
        queue = create_queue(grading_settings)
        try:
            # The first issuing's job must be over (on a loaded machine a retry of it may still be waiting):
            # a key that is queued or running is not queued twice.
            deadline = time.monotonic() + 60
            while (
                job := await queue.job(credential_job_key(enrollment_id))
            ) is not None and job.status not in TERMINAL_STATUSES:
                assert time.monotonic() < deadline, f"the first issuing never finished: {job}"
                await asyncio.sleep(0.1)
            assert await enqueue_issue_credential(queue, grading_settings, org_id, enrollment_id)
            deadline = time.monotonic() + 60
            while True:
                job = await queue.job(credential_job_key(enrollment_id))
                if job is not None and job.status == "complete" and job.result is not None:
                    break
                assert time.monotonic() < deadline, f"job never completed: {job}"
                await asyncio.sleep(0.1)
            assert job.result == "exists"
        finally:
            await queue.disconnect()
        twice = [await service.issue(org_id, enrollment_id) for _ in range(2)]
        racing = await asyncio.gather(*(service.issue(org_id, enrollment_id) for _ in range(2)))
        for result in [*twice, *racing]:
            assert (result.outcome, str(result.credential_id)) == ("exists", issued["item"]["id"])
        async with db.transaction(org_id) as session:
            count = await session.scalar(
                select(func.count()).select_from(Credential).where(Credential.enrollment_id == enrollment_id)
            )
        assert count == 1
    finally:
        await db.dispose()


async def test_concurrent_first_issues_make_one_credential_for_a_registered_did(
    gclient: Client, grading_settings: Settings, small_courses: None
) -> None:
    """Two issues racing on an enrolment with no credential yet (the worker's job may be a third): one
    credential, every caller names it; the learner's registered DID is its subject."""
    headers = await new_learner(gclient, enrol=None)
    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    assert (await gclient.put("/v1/me/credential-subject", headers=headers, json={"did": did})).json() == {"did": did}
    me = (await gclient.get("/v1/me", headers=headers)).json()
    org_id, user_id = uuid.UUID(me["org_id"]), uuid.UUID(me["user_id"])
    outline = await complete_small_course(gclient, headers, COURSE)
    db = Database.from_settings(grading_settings)
    try:
        [[enrollment_id]] = await owner_sql(
            grading_settings,
            "select id from enrollments where user_id = :u and course_id = :c",
            {"u": user_id, "c": outline["id"]},
        )
        service = IssuanceService(db, grading_settings)
        results = await asyncio.gather(*(service.issue(org_id, enrollment_id) for _ in range(3)))
        assert len({r.credential_id for r in results}) == 1
        assert sum(r.outcome == "issued" for r in results) <= 1
    finally:
        await db.dispose()
    [item] = await wait_for_credentials(gclient, headers)
    assert item["credential"]["credentialSubject"]["id"] == did
    assert str(results[0].credential_id) == item["id"]


async def test_a_credential_failing_the_schema_is_a_dead_letter_never_issued(
    gclient: Client, grading_settings: Settings, small_courses: None
) -> None:
    headers = await new_learner(gclient, enrol=None)
    me = (await gclient.get("/v1/me", headers=headers)).json()
    outline = await complete_small_course(gclient, headers, BROKEN)
    [[enrollment_id]] = await owner_sql(
        grading_settings,
        "select id from enrollments where user_id = :u and course_id = :c",
        {"u": me["user_id"], "c": outline["id"]},
    )
    db = Database.from_settings(grading_settings)
    try:
        deadline = time.monotonic() + 90
        while True:
            async with db.transaction(uuid.UUID(me["org_id"])) as session:
                letter = await session.scalar(
                    select(DeadLetter).where(
                        DeadLetter.function == "issue_credential",
                        DeadLetter.payload["enrollment_id"].astext == str(enrollment_id),
                    )
                )
                credentials = await session.scalar(
                    select(func.count()).select_from(Credential).where(Credential.enrollment_id == enrollment_id)
                )
            if letter is not None:
                break
            assert time.monotonic() < deadline, "the schema failure never reached the dead-letter list"
            await asyncio.sleep(0.1)
    finally:
        await db.dispose()
    assert credentials == 0
    assert letter.job_key == credential_job_key(enrollment_id)
    assert "criteria" in letter.payload["schema_path"] or letter.payload["schema_path"].endswith("achievement")
    assert letter.reason.startswith("schema:")
    # The sweep leaves a dead-lettered enrolment alone.
    pending = await owner_sql(grading_settings, "select enrollment_id from lyceum_completed_without_credential(10000)")
    assert enrollment_id not in {row[0] for row in pending}
    assert (await gclient.get("/v1/me/credentials", headers=headers)).json()["total"] == 0


async def test_the_share_page_data_is_public(issued: dict[str, Any], gclient: Client) -> None:
    item = issued["item"]
    renamed = await gclient.patch(
        f"/v1/me/credentials/{item['id']}", headers=issued["headers"], json={"display_name": "  Gail   G. "}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["display_name"] == "Gail G."
    shared = await gclient.get(f"/v1/credentials/{item['id']}")  # no Authorization header
    assert shared.status_code == 200, shared.text
    body = shared.json()
    assert set(body) == {
        "id", "status", "issued_at", "revoked_at", "course_title", "recipient_name", "achievement", "issuer",
        "credential", "jwt", "share_url", "linkedin_url",
    }  # fmt: skip
    assert body["recipient_name"] == "Gail G."
    assert body["status"] == "active"
    assert body["achievement"]["criteria"].startswith("Read the lesson")
    assert body["issuer"]["id"].startswith("did:web:")
    assert body["issuer"]["name"]
    assert body["credential"] == item["credential"]
    assert body["jwt"] == item["jwt"]
    assert body["share_url"] == item["share_url"]
    for bad in ("not-a-uuid", str(uuid.uuid4()), "1" * 300, "%E2%80%AE", item["id"].upper() + "x"):
        missing = await gclient.get(f"/v1/credentials/{bad}")
        assert missing.status_code == 404, (bad, missing.status_code)
        assert missing.headers["content-type"].startswith("application/problem+json")
    nul = await gclient.get("/v1/credentials/%00")  # the input guard's answer to NUL in a path
    assert nul.status_code == 400


async def test_the_badge_unbakes_to_the_credential(issued: dict[str, Any], gclient: Client) -> None:
    item = issued["item"]
    badge = await gclient.get(f"/v1/credentials/{item['id']}/badge.svg")
    assert badge.status_code == 200, badge.text
    assert badge.headers["content-type"].startswith("image/svg+xml")
    assert badge.headers["content-disposition"].startswith("attachment;")
    assert 'role="img"' in badge.text
    assert "Credential Mini Course" in badge.text
    assert unbake_svg(badge.text) == item["credential"]
    assert (await gclient.get(f"/v1/credentials/{uuid.uuid4()}/badge.svg")).status_code == 404


async def test_learner_endpoints_refuse_what_is_not_theirs_or_not_valid(
    issued: dict[str, Any], gclient: Client
) -> None:
    other = await new_learner(gclient, enrol=None)
    item_id = issued["item"]["id"]
    assert (await gclient.get("/v1/me/credentials", headers=other)).json()["total"] == 0
    stolen = await gclient.patch(f"/v1/me/credentials/{item_id}", headers=other, json={"display_name": "Mallory"})
    assert stolen.status_code == 404
    for bad in ("", "   ", "x" * 201, "<b>hi</b>"):
        refused = await gclient.patch(
            f"/v1/me/credentials/{item_id}", headers=issued["headers"], json={"display_name": bad}
        )
        assert refused.status_code in (400, 422), (bad, refused.status_code)
    for did in ("not-a-did", "did:web", "did::x", "did:Web:x", "did:web:" + "a" * 500):
        refused = await gclient.put("/v1/me/credential-subject", headers=other, json={"did": did})
        assert refused.status_code in (400, 422), (did, refused.status_code)
    assert (await gclient.put("/v1/me/credential-subject", headers=other, json={"did": None})).json() == {"did": None}
    assert (await gclient.get("/v1/me/credential-subject", headers=other)).json() == {"did": None}
    assert (await gclient.get("/v1/me/credentials")).status_code == 401


async def test_the_demo_learner_holds_a_credential_after_seeding(gclient: Client, small_courses: None) -> None:
    headers = await auth_headers(gclient, "learner@demo.test", "demo")
    body = (await gclient.get("/v1/me/credentials", headers=headers)).json()
    # Other tests in the run complete more courses as Leo (each issues one more): find the seeded one.
    assert body["total"] >= 1
    [item] = [i for i in body["items"] if i["course_title"] == "Distributed Systems Lab"]
    assert item["credential"]["credentialSubject"]["achievement"]["criteria"]["narrative"].startswith("Awarded")
    outline = await course_outline(gclient, headers, "distributed-systems-lab")
    progress = (await gclient.get(f"/v1/courses/{outline['id']}/progress", headers=headers)).json()
    assert progress["completed_items"] == progress["total_items"]
    assert progress["completed_at"] is not None


def test_worker_registers_the_jobs(gworker: Worker[Any]) -> None:
    assert {"issue_credential", "issue_pending_credentials"} <= set(gworker.functions)
    assert any(cron.function.__name__ == "issue_pending_credentials" for cron in gworker.cron_jobs)
