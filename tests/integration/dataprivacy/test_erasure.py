"""Erasure of a person: by themselves (every org they belong to) and by an org admin; what is pseudonymised,
deleted and recorded, that their sessions end, that a projection rebuild keeps them erased, and the refusals
(409) for oneself, the last active admin and a member of another org. Also that the application role still
cannot change the audit log directly."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import Database, app_url, create_engine
from app.db.models import (
    AIInteraction,
    AuditLogEntry,
    Credential,
    Enrollment,
    Grade,
    MasteryEstimate,
    Membership,
    RedactionEvent,
    Submission,
    User,
)
from app.domain.credentials.erasure import ERASURE_REASON, revoke_for_erasure
from app.domain.credentials.issuance import IssuanceService
from app.domain.credentials.status import revoked_indices
from app.domain.progress.projections import rebuild_projections
from app.lib.objectstore import LocalObjectStore
from tests.integration.dataprivacy.conftest import Place, add_turn, demo_org_id, new_chat
from tests.integration.orgadmin.conftest import PASSWORD, World, sign_in
from tests.support.accounts import new_member
from tests.support.stack import login

Client = AsyncTestClient[Litestar]


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def _learn(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    """Enrol in backend-foundations and complete what can be completed: exercises give mastery evidence."""
    courses = (await client.get("/v1/courses", headers=headers, params={"limit": 100})).json()["items"]
    course_id = next(c["id"] for c in courses if c["slug"] == "backend-foundations")
    course: dict[str, Any] = (await client.get(f"/v1/courses/{course_id}", headers=headers)).json()
    enrolled = await client.post(f"/v1/courses/{course_id}/enrollments", headers=headers)
    assert enrolled.status_code in (200, 201), enrolled.text
    for module in course["modules"]:
        for item in module["items"]:
            if item["kind"] in ("lesson", "exercise"):
                await client.post(f"/v1/courses/{course_id}/items/{item['id']}/completion", headers=headers)
    return course


async def test_self_erasure_pseudonymises_ends_sessions_and_stays_erased(
    client: Client, settings: Settings, world: World, store: LocalObjectStore
) -> None:
    member = await new_member(client, name="Erin Erasable")
    tokens = await login(client, member["email"], "demo", member["password"])
    headers = _bearer(tokens)
    me = (await client.get("/v1/me", headers=headers)).json()
    user_id, org_id = uuid.UUID(me["user_id"]), uuid.UUID(me["org_id"])
    course = await _learn(client, headers)
    place = Place(world.engine, org_id, uuid.UUID(course["id"]))
    chat = await new_chat(place, user_id)
    turn, key = await add_turn(place, store, chat, user_id, f"my secret {uuid.uuid4()}")
    async with world.engine.connect() as conn:
        estimates = await conn.scalar(select(func.count()).where(MasteryEstimate.user_id == user_id))
    assert estimates, "completing exercises gave mastery estimates"

    # Refusals first: no confirmation, a wrong password. Nothing changes.
    unconfirmed = await client.post("/v1/me/erasure", headers=headers, json={"current_password": member["password"]})
    assert unconfirmed.status_code == 422, unconfirmed.text
    wrong = await client.post(
        "/v1/me/erasure", headers=headers, json={"confirm": "DELETE", "current_password": "not-it"}
    )
    assert wrong.status_code == 422, wrong.text
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/v1/me", headers=headers)).status_code == 200

    erased = await client.post(
        "/v1/me/erasure", headers=headers, json={"confirm": "DELETE", "current_password": member["password"]}
    )
    assert erased.status_code == 200, erased.text
    summary = erased.json()
    assert summary["orgs"] == 1
    assert summary["transcripts"] == 1
    assert summary["transcript_files_deleted"] == 1
    assert summary["mastery_estimates"] == estimates
    assert summary["audit_entries_redacted"] >= 1  # user.created quoted the email

    # Sessions end: the access token and the refresh token are refused; the old password signs in nobody.
    assert (await client.get("/v1/me", headers=headers)).status_code == 401
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    relogin = await client.post(
        "/v1/auth/login", json={"email": member["email"], "password": member["password"], "org": "demo"}
    )
    assert relogin.status_code == 401

    assert not (store.root / key).exists()
    async with world.engine.connect() as conn:
        user = (await conn.execute(select(User).where(User.id == user_id))).one()
        assert user.email == f"erased-{user_id}@erased.invalid"
        assert (user.name, user.password_hash, user.is_active, user.credential_did) == (
            "Erased user",
            None,
            False,
            None,
        )
        purged = await conn.scalar(select(AIInteraction.content_purged_at).where(AIInteraction.id == turn))
        assert purged is not None
        events = list(
            await conn.scalars(
                select(RedactionEvent.kind).where(RedactionEvent.user_id == user_id, RedactionEvent.org_id == org_id)
            )
        )
        assert events == ["user_erased"]
        entries = (
            await conn.execute(
                select(AuditLogEntry.action, AuditLogEntry.before, AuditLogEntry.after).where(
                    AuditLogEntry.org_id == org_id, AuditLogEntry.entity_id == str(user_id)
                )
            )
        ).all()
        assert "user.erased" in {entry.action for entry in entries}
        for entry in entries:
            blob = f"{entry.before} {entry.after}"
            assert member["email"] not in blob
            assert "Erin Erasable" not in blob
        assert not await conn.scalar(select(func.count()).where(MasteryEstimate.user_id == user_id))

    # A projection rebuild folds the ledger again but leaves the erased person out.
    db = Database.from_settings(settings)
    try:
        await rebuild_projections(db.for_tenant(org_id))
    finally:
        await db.dispose()
    async with world.engine.connect() as conn:
        assert not await conn.scalar(select(func.count()).where(MasteryEstimate.user_id == user_id))


async def test_admin_erasure_and_its_refusals(client: Client, world: World, store: LocalObjectStore) -> None:
    admin = await sign_in(client, world.admin, world.slug)
    learner = await world.add_user("erase-me", "learner", name="Lee Learner")
    await world.enroll(learner, failed=1)
    learner_tokens = await login(client, world.email("erase-me"), world.slug, PASSWORD)
    chat = await new_chat(world, learner)
    _, key = await add_turn(world, store, chat, learner, f"learner text {uuid.uuid4()}")

    # Refusals: oneself, a member of another org, the last active admin erasing themselves.
    admin_id = uuid.UUID((await client.get("/v1/me", headers=admin)).json()["user_id"])
    own = await client.post(f"/v1/admin/users/{admin_id}/erasure", headers=admin, json={"confirm": "DELETE"})
    assert own.status_code == 409, own.text
    assert own.headers["content-type"].startswith("application/problem+json")
    last = await client.post("/v1/me/erasure", headers=admin, json={"confirm": "DELETE", "current_password": PASSWORD})
    assert last.status_code == 409, last.text
    shared = await world.add_user("two-orgs", "learner")
    demo_id = await demo_org_id(world)
    async with world.engine.begin() as conn:
        await conn.execute(insert(Membership).values(id=uuid.uuid4(), org_id=demo_id, user_id=shared, role="learner"))
    other = await client.post(f"/v1/admin/users/{shared}/erasure", headers=admin, json={"confirm": "DELETE"})
    assert other.status_code == 409, other.text
    unknown = await client.post(f"/v1/admin/users/{uuid.uuid4()}/erasure", headers=admin, json={"confirm": "DELETE"})
    assert unknown.status_code == 404

    done = await client.post(f"/v1/admin/users/{learner}/erasure", headers=admin, json={"confirm": "DELETE"})
    assert done.status_code == 200, done.text
    assert done.json()["submissions"] == 1
    assert done.json()["grades"] == 1
    assert (await client.get("/v1/me", headers=_bearer(learner_tokens))).status_code == 401
    assert not (store.root / key).exists()
    async with world.engine.connect() as conn:
        answers = list(await conn.scalars(select(Submission.answer).where(Submission.user_id == learner)))
        assert answers == [{"erased": True}]
        feedback = list(
            await conn.scalars(
                select(Grade.feedback)
                .join(Submission, Submission.id == Grade.submission_id)
                .where(Submission.user_id == learner)
            )
        )
        assert feedback == ["[erased]"]
        requested_by = await conn.scalar(select(RedactionEvent.requested_by).where(RedactionEvent.user_id == learner))
        assert requested_by == admin_id
        assert await conn.scalar(select(User.name).where(User.id == learner)) == "Erased user"


async def test_app_role_cannot_change_the_audit_log_or_open_the_archival_path(settings: Settings, world: World) -> None:
    engine = create_engine(app_url(settings), pool_size=1)

    async def as_app_role(statement: str, **params: Any) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("select set_config('app.current_org', :o, true)"), {"o": str(world.org_id)})
            await conn.execute(text(statement), params)

    try:
        for statement in (
            "update audit_log set action = action",
            "delete from audit_log",
            "update redaction_events set kind = kind",
            "insert into lyceum_archival_grants (xact) values (txid_current())",
        ):
            with pytest.raises(DBAPIError, match=r"permission denied|append-only"):
                await as_app_role(statement)
        # The definer function redacts only people whose erasure the org recorded.
        with pytest.raises(DBAPIError, match="no erasure recorded"):
            await as_app_role("select lyceum_redact_erased_user(:u, 'x@y.test', 'X')", u=str(uuid.uuid4()))
    finally:
        await engine.dispose()


async def test_self_erasure_reaches_every_org_of_the_person(client: Client, world: World) -> None:
    person = await world.add_user("everywhere", "learner", name="Eve Everywhere")
    demo_id = await demo_org_id(world)
    async with world.engine.begin() as conn:
        await conn.execute(insert(Membership).values(id=uuid.uuid4(), org_id=demo_id, user_id=person, role="learner"))
    headers = await sign_in(client, world.email("everywhere"), world.slug)
    erased = await client.post(
        "/v1/me/erasure", headers=headers, json={"confirm": "DELETE", "current_password": PASSWORD}
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["orgs"] == 2
    async with world.engine.connect() as conn:
        orgs = set(
            await conn.scalars(
                select(RedactionEvent.org_id).where(
                    RedactionEvent.user_id == person, RedactionEvent.kind == "user_erased"
                )
            )
        )
        erased_in = set(
            await conn.scalars(
                select(AuditLogEntry.org_id).where(
                    AuditLogEntry.entity_id == str(person), AuditLogEntry.action == "user.erased"
                )
            )
        )
    assert orgs == erased_in == {world.org_id, demo_id}


async def test_erasure_revokes_the_persons_credentials_and_clears_their_public_name(
    client: Client, settings: Settings, world: World
) -> None:
    """A credential outlives its holder's account: anyone with its link reads its public page, and verifiers
    check its status list. Erasure revokes it (the list's bit set, the list re-signed, a webhook event) and
    clears the name the learner chose to show, so nothing public names the erased person; the audit entry of
    that choice is redacted like the others. Run again (an erasure sent twice), it revokes nothing more."""
    member = await new_member(client, name="Cora Credentialed")
    headers = _bearer(await login(client, member["email"], "demo", member["password"]))
    me = (await client.get("/v1/me", headers=headers)).json()
    user_id, org_id = uuid.UUID(me["user_id"]), uuid.UUID(me["org_id"])
    course = await _learn(client, headers)
    async with world.engine.begin() as conn:  # the course finished, as the progress fold records it
        enrollment_id = await conn.scalar(
            update(Enrollment)
            .where(Enrollment.user_id == user_id, Enrollment.course_id == uuid.UUID(course["id"]))
            .values(completed_at=func.now())
            .returning(Enrollment.id)
        )
    assert enrollment_id is not None
    db = Database.from_settings(settings)
    try:
        issued = await IssuanceService(db, settings).issue(org_id, enrollment_id)  # what the worker's job runs
    finally:
        await db.dispose()
    assert issued.outcome == "issued", issued
    credential_id = issued.credential_id
    shown = await client.patch(
        f"/v1/me/credentials/{credential_id}", headers=headers, json={"display_name": "Cora the Coder"}
    )
    assert shown.status_code == 200, shown.text
    assert "Cora the Coder" in (await client.get(f"/v1/credentials/{credential_id}")).text

    erased = await client.post(
        "/v1/me/erasure", headers=headers, json={"confirm": "DELETE", "current_password": member["password"]}
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["credentials_revoked"] == 1

    page = await client.get(f"/v1/credentials/{credential_id}")
    assert page.status_code == 200, page.text
    assert page.json()["status"] == "revoked"  # what anyone holding the link now reads
    assert "Cora the Coder" not in page.text
    assert "Cora Credentialed" not in page.text
    async with world.engine.connect() as conn:
        credential = (await conn.execute(select(Credential).where(Credential.id == credential_id))).one()
        assert (credential.status, credential.display_name) == ("revoked", "")
        assert credential.revocation_reason == ERASURE_REASON
        assert credential.status_list_id is not None
        async with AsyncSession(bind=conn) as session:
            assert credential.status_index in await revoked_indices(session, credential.status_list_id)
        # The audit entry of the rename was about the credential, and quoted the chosen name: redacted too.
        renames = (
            await conn.execute(
                select(AuditLogEntry.before, AuditLogEntry.after).where(
                    AuditLogEntry.org_id == org_id, AuditLogEntry.entity_id == str(credential_id)
                )
            )
        ).all()
        assert renames
        assert all("Cora the Coder" not in f"{entry.before} {entry.after}" for entry in renames), renames

    # Run again in the org (the person's token is dead, so as the erasure service would): nothing to revoke,
    # and the status list is not re-signed for nothing.
    db = Database.from_settings(settings)
    try:
        async with db.transaction(org_id) as session:
            assert await revoke_for_erasure(session, settings, user_id) == 0
    finally:
        await db.dispose()
