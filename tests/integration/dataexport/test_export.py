"""Personal-data export end to end (issue 18 item 5): a learner polls GET /v1/me/export, the real
``build_data_export`` task builds the zip, the signed link downloads it; tampered and expired links, the daily
limit, the admin's per-learner export and the expiry cron. Real PostgreSQL, Redis, object store and task
functions; the organization is a fresh one of this module (the org admin tests' world builder)."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import insert, select, update

from app.asgi import create_app
from app.config import Settings
from app.db.models import AIInteraction, AuditLogEntry, DataExport, DeadLetter, ReviewItem, Submission
from app.domain.components import Components
from app.domain.dataexport.links import sign_link
from app.lib.jobs import data_export_job_key
from app.server.components import build_components, close_components
from jobs import tasks
from tests.integration.orgadmin.conftest import World, build_world, sign_in

Client = AsyncTestClient[Litestar]

EXPECTED_FILES = {
    "README.txt",
    "profile.json",
    "enrollments.json",
    "progress_events.jsonl",
    "submissions.json",
    "tutor_transcripts.jsonl",
    "ai_feedback.json",
    "spaced_review.json",
    "credentials.json",
}


@pytest.fixture(scope="module")
async def world(settings: Settings, seeded: Any) -> AsyncIterator[World]:
    built = await build_world(settings)
    yield built
    await built.engine.dispose()


@pytest.fixture(scope="module")
def export_settings(settings: Settings) -> Settings:
    """The session's settings with a Redis key prefix (so a job queue) of this module's own: a worker another
    module left running on the session's queue (the browser tests' grading worker) would otherwise take the
    build jobs these tests run by hand, and build the exports first."""
    return replace(settings, redis_key_prefix=f"{settings.redis_key_prefix}export-{uuid.uuid4().hex[:8]}:")


@pytest.fixture(scope="module")
async def client(export_settings: Settings, seeded: Any) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(export_settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def worker_components(export_settings: Settings, seeded: Any) -> AsyncIterator[Components]:
    """The worker's components on the test's own loop (the app's live on its test client's portal loop):
    the same database, Redis queue and object store, as ``lyceum worker`` would build them."""
    components = build_components(export_settings)
    yield components
    await close_components(components)


_RUNTIME: dict[str, Components] = {}


@pytest.fixture(autouse=True)
def _runtime(worker_components: Components) -> None:
    _RUNTIME["components"] = worker_components


def runtime(client: Client) -> Components:
    return _RUNTIME["components"]


async def tutor_turn(client: Client, world: World, user_id: uuid.UUID, user: str, reply: str) -> uuid.UUID:
    """An ``ai_interactions`` row with its turn text in the object store, as the tutor writes them."""
    content = msgspec.json.encode({"user": user, "reply": reply})
    stored = await runtime(client).tutor.objects.put(content, namespace=f"tutor/{world.org_id}")
    interaction_id = uuid.uuid4()
    async with world.engine.begin() as conn:
        await conn.execute(
            insert(AIInteraction).values(
                id=interaction_id,
                org_id=world.org_id,
                user_id=user_id,
                course_id=world.course_id,
                item_id=world.items[0],
                purpose="tutor",
                mode="socratic",
                content_hash=stored.content_hash,
                object_key=stored.key,
                model="offline",
            )
        )
    return interaction_id


async def learner_with_data(client: Client, world: World, who: str, secret: str) -> uuid.UUID:
    """A learner with an enrolment, two completed items, a graded submission under review (with a dispute)
    and a tutor turn whose text contains ``secret``."""
    user_id = await world.add_user(who, "learner", name=f"{who.title()} Person")
    await world.enroll(user_id, done=2, failed=1)
    async with world.engine.begin() as conn:
        submission_id = (await conn.execute(select(Submission.id).where(Submission.user_id == user_id))).scalar_one()
        await conn.execute(
            insert(ReviewItem).values(
                id=uuid.uuid4(),
                org_id=world.org_id,
                submission_id=submission_id,
                assessment_id=world.assessment_id,
                course_id=world.course_id,
                reason="disagreement",
                status="decided",
                decision="accept",
                decision_reason=f"reviewed for {who}",
                dispute_reason=f"I disagree ({who})",
                sla_due_at=datetime.now(UTC) + timedelta(days=2),
            )
        )
    await tutor_turn(client, world, user_id, f"What is {secret}?", f"{secret} is the answer")
    return user_id


async def run_build(client: Client, export_id: str, org_id: uuid.UUID) -> str:
    """The real task function, with the real SAQ job the request enqueued."""
    components = runtime(client)
    job = await components.queue.job(data_export_job_key(export_id))
    assert job is not None, "the request enqueued no build job"
    ctx: Any = {"components": components, "job": job}
    return await tasks.build_data_export(ctx, export_id=export_id, org_id=str(org_id))


def unzip(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


async def audit_actions(world: World, export_id: str) -> list[str]:
    async with world.engine.begin() as conn:
        rows = await conn.execute(
            select(AuditLogEntry.action).where(AuditLogEntry.entity_id == export_id).order_by(AuditLogEntry.created_at)
        )
        return [row[0] for row in rows]


async def test_learner_polls_builds_and_downloads_their_own_data(client: Client, world: World) -> None:
    learner = await learner_with_data(client, world, "alice", "photosynthesis")
    await learner_with_data(client, world, "bob", "mitochondria")  # another learner of the same org
    headers = await sign_in(client, world.email("alice"), world.slug)

    first = await client.get("/v1/me/export", headers=headers)
    assert first.status_code == 202, first.text
    assert first.headers["retry-after"] == "2"
    pending = first.json()
    assert pending["status"] == "pending"
    assert pending["download_url"] is None
    again = await client.get("/v1/me/export", headers=headers)  # polling does not ask again
    assert again.status_code == 202
    assert again.json()["id"] == pending["id"]

    assert await run_build(client, pending["id"], world.org_id) == "ready"
    assert await run_build(client, pending["id"], world.org_id) == "skipped"  # idempotent

    ready = await client.get("/v1/me/export", headers=headers)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["id"] == pending["id"]
    assert body["status"] == "ready"
    assert body["size_bytes"] > 0
    assert body["download_url"].startswith("/v1/exports/")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)

    download = await client.get(body["download_url"])  # no session: the link is the capability
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["cache-control"] == "no-store"
    day = datetime.fromisoformat(body["completed_at"]).date().isoformat()
    assert download.headers["content-disposition"] == f'attachment; filename="lyceum-export-{day}.zip"'
    assert len(download.content) == body["size_bytes"]

    files = unzip(download.content)
    assert set(files) == EXPECTED_FILES
    assert f"Org {world.tag}" in files["README.txt"]
    profile = json.loads(files["profile.json"])
    assert profile["id"] == str(learner)
    assert profile["email"] == world.email("alice")
    assert profile["roles"] == ["learner"]
    enrollments = json.loads(files["enrollments.json"])
    assert [e["course_title"] for e in enrollments] == ["Admin Course"]
    events = [json.loads(line) for line in files["progress_events.jsonl"].splitlines()]
    assert [e["type"] for e in events] == ["item.completed", "item.completed"]
    submissions = json.loads(files["submissions.json"])
    assert len(submissions) == 1
    assert submissions[0]["grades"][0]["score"] == 1
    assert "rationale" in submissions[0]["grades"][0]
    assert submissions[0]["review"]["dispute_reason"] == "I disagree (alice)"
    assert submissions[0]["review"]["decision"] == "accept"
    turns = [json.loads(line) for line in files["tutor_transcripts.jsonl"].splitlines()]
    assert len(turns) == 1
    assert turns[0]["text_available"] is True
    assert turns[0]["text"] == {"user": "What is photosynthesis?", "reply": "photosynthesis is the answer"}
    assert turns[0]["mode"] == "socratic"
    assert turns[0]["course_id"] == str(world.course_id)
    assert json.loads(files["spaced_review.json"]) == {"review_cards": [], "review_logs": []}
    everything = "".join(files.values())
    assert "mitochondria" not in everything  # bob's data is not in alice's export
    assert "bob" not in everything.lower()

    assert await audit_actions(world, pending["id"]) == ["data_export.requested", "data_export.downloaded"]


async def test_a_missing_transcript_file_is_marked_not_available(client: Client, world: World) -> None:
    user_id = await world.add_user("carol", "learner")
    interaction = await tutor_turn(client, world, user_id, "a question only carol asked", "its reply")
    async with world.engine.begin() as conn:
        key = (await conn.execute(select(AIInteraction.object_key).where(AIInteraction.id == interaction))).scalar_one()
    await runtime(client).tutor.objects.delete(key)
    headers = await sign_in(client, world.email("carol"), world.slug)
    export = (await client.post("/v1/me/export", headers=headers)).json()
    assert await run_build(client, export["id"], world.org_id) == "ready"
    url = (await client.get("/v1/me/export", headers=headers)).json()["download_url"]
    turns = unzip((await client.get(url)).content)["tutor_transcripts.jsonl"].splitlines()
    assert [(json.loads(t)["text"], json.loads(t)["text_available"]) for t in turns] == [(None, False)]


async def test_tampered_and_expired_links(client: Client, world: World, settings: Settings) -> None:
    await world.add_user("dave", "learner")
    headers = await sign_in(client, world.email("dave"), world.slug)
    export = (await client.get("/v1/me/export", headers=headers)).json()
    await run_build(client, export["id"], world.org_id)
    url = (await client.get("/v1/me/export", headers=headers)).json()["download_url"]
    token = url.rsplit("/", 1)[1]

    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    for bad in (flipped, "garbage", token + "x", "a.b"):
        response = await client.get(f"/v1/exports/{bad}")
        assert response.status_code == 404, bad
        assert response.headers["content-type"].startswith("application/problem+json")

    # A genuine link past its own expiry.
    secret = settings.secret_key.value
    old = sign_link(secret, uuid.UUID(export["id"]), world.org_id, int(time.time()) - 1)
    response = await client.get(f"/v1/exports/{old}")
    assert response.status_code == 410
    assert response.headers["content-type"].startswith("application/problem+json")

    # A genuine, unexpired link, but the export itself expired.
    async with world.engine.begin() as conn:
        await conn.execute(
            update(DataExport)
            .where(DataExport.id == uuid.UUID(export["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert (await client.get(url)).status_code == 410

    # A link signed for another org does not reach this org's export (RLS scopes the read by the token's org).
    elsewhere = sign_link(secret, uuid.UUID(export["id"]), uuid.uuid4(), int(time.time()) + 600)
    assert (await client.get(f"/v1/exports/{elsewhere}")).status_code == 404


async def test_expired_exports_are_renewed_and_the_cron_deletes_their_zip(client: Client, world: World) -> None:
    await world.add_user("erin", "learner")
    headers = await sign_in(client, world.email("erin"), world.slug)
    export = (await client.get("/v1/me/export", headers=headers)).json()
    await run_build(client, export["id"], world.org_id)
    export_id = uuid.UUID(export["id"])
    async with world.engine.begin() as conn:
        await conn.execute(
            update(DataExport)
            .where(DataExport.id == export_id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        key = (await conn.execute(select(DataExport.object_key).where(DataExport.id == export_id))).scalar_one()
    objects = runtime(client).tutor.objects
    assert await objects.get(key)

    result = await tasks.expire_data_exports({"components": runtime(client)})  # type: ignore[typeddict-unknown-key]
    assert result["expired"] >= 1
    async with world.engine.begin() as conn:
        status = (await conn.execute(select(DataExport.status).where(DataExport.id == export_id))).scalar_one()
    assert status == "expired"
    with pytest.raises(FileNotFoundError):
        await objects.get(key)

    # The page's next poll asks for a new export.
    renewed = await client.get("/v1/me/export", headers=headers)
    assert renewed.status_code == 202
    assert renewed.json()["id"] != export["id"]


async def test_a_fourth_new_export_in_a_day_is_refused(client: Client, world: World) -> None:
    await world.add_user("frank", "learner")
    headers = await sign_in(client, world.email("frank"), world.slug)
    seen = set()
    for _ in range(3):
        asked = await client.post("/v1/me/export", headers=headers)
        assert asked.status_code == 202, asked.text
        pending_again = await client.post("/v1/me/export", headers=headers)  # pending: the same one
        assert pending_again.json()["id"] == asked.json()["id"]
        seen.add(asked.json()["id"])
        await run_build(client, asked.json()["id"], world.org_id)
    assert len(seen) == 3
    refused = await client.post("/v1/me/export", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(refused.headers["retry-after"]) <= 24 * 3600
    assert "3 data exports a day" in refused.json()["detail"]
    # The ready one is still there to download.
    latest = await client.get("/v1/me/export", headers=headers)
    assert latest.status_code == 200
    assert latest.json()["download_url"]


async def test_admin_exports_a_member_not_a_stranger(client: Client, world: World) -> None:
    member = await learner_with_data(client, world, "gina", "chlorophyll")
    admin = await sign_in(client, world.admin, world.slug)
    learner = await sign_in(client, world.email("gina"), world.slug)

    asked = await client.post(f"/v1/admin/users/{member}/export", headers=admin)
    assert asked.status_code == 202, asked.text
    export_id = asked.json()["id"]
    await run_build(client, export_id, world.org_id)
    ready = await client.get(f"/v1/admin/users/{member}/export", headers=admin)
    assert ready.status_code == 200
    files = unzip((await client.get(ready.json()["download_url"])).content)
    assert json.loads(files["profile.json"])["id"] == str(member)
    assert "chlorophyll" in files["tutor_transcripts.jsonl"]
    # The learner sees the same export on their own page.
    assert (await client.get("/v1/me/export", headers=learner)).json()["id"] == export_id

    async with world.engine.begin() as conn:
        entry = (
            await conn.execute(
                select(AuditLogEntry.after, AuditLogEntry.actor_id).where(
                    AuditLogEntry.entity_id == export_id, AuditLogEntry.action == "data_export.requested"
                )
            )
        ).one()
    assert entry.after == {"subject_id": str(member), "status": "pending"}
    assert entry.actor_id != member  # the admin asked

    stranger = await client.get(f"/v1/admin/users/{uuid.uuid4()}/export", headers=admin)
    assert stranger.status_code == 404
    demo_learner = await client.get("/v1/me", headers=await sign_in(client, "learner@demo.test", "demo", "lyceum-demo"))
    other_org = demo_learner.json()["user_id"]
    assert (await client.post(f"/v1/admin/users/{other_org}/export", headers=admin)).status_code == 404

    assert (await client.get(f"/v1/admin/users/{member}/export", headers=learner)).status_code == 403
    assert (await client.post(f"/v1/admin/users/{member}/export", headers=learner)).status_code == 403


async def test_options_and_head_do_not_fail(client: Client, world: World) -> None:
    for path in ("/v1/me/export", f"/v1/admin/users/{uuid.uuid4()}/export", "/v1/exports/garbage"):
        for method in ("OPTIONS", "HEAD"):
            response = await client.request(method, path)
            assert response.status_code < 500, (method, path, response.status_code)


async def test_a_build_that_keeps_failing_marks_the_export_failed(client: Client, world: World) -> None:
    """The object store cannot write (a file where the org's exports directory should be): each attempt
    raises for SAQ to retry; the last one marks the export failed and dead-letters the job, and the page's
    next poll asks for a new export."""
    await world.add_user("hank", "learner")
    headers = await sign_in(client, world.email("hank"), world.slug)
    export = (await client.get("/v1/me/export", headers=headers)).json()
    components = runtime(client)
    blocker = components.settings.objects_path / "exports" / str(world.org_id)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    moved = blocker.with_name(f"{world.org_id}.moved")
    if blocker.exists():
        blocker.rename(moved)
    blocker.write_text("not a directory")
    try:
        job = await components.queue.job(data_export_job_key(export["id"]))
        assert job is not None
        ctx: Any = {"components": components, "job": job}
        job.attempts = 1  # SAQ counts the attempt before running it
        with pytest.raises(NotADirectoryError):
            await tasks.build_data_export(ctx, export_id=export["id"], org_id=str(world.org_id))
        job.attempts = job.retries  # the last attempt
        assert await tasks.build_data_export(ctx, export_id=export["id"], org_id=str(world.org_id)) == "failed"
    finally:
        blocker.unlink()
        if moved.exists():
            moved.rename(blocker)

    async with world.engine.begin() as conn:
        status, error = (
            await conn.execute(
                select(DataExport.status, DataExport.error).where(DataExport.id == uuid.UUID(export["id"]))
            )
        ).one()
        letters = (
            await conn.execute(
                select(DeadLetter.function, DeadLetter.payload).where(
                    DeadLetter.job_key == data_export_job_key(export["id"])
                )
            )
        ).all()
    assert status == "failed"
    assert error
    assert [(f, p) for f, p in letters] == [("build_data_export", {"export_id": export["id"]})]
    again = await client.get("/v1/me/export", headers=headers)
    assert again.status_code == 202
    assert again.json()["id"] != export["id"]
