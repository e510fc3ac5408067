"""``lyceum erase user <email> --confirm <email>``: the operator erases a person who cannot ask themselves (a
member of two orgs, whom neither org's admin may erase), in every org, on their behalf; the same refusal as
an admin's for the last active admin; a clear exit for an unknown email or a missing confirmation."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import insert, select

from app.cli import build_parser
from app.config import Settings
from app.db.models import AuditLogEntry, Membership, RedactionEvent, Submission, User
from app.domain.dataprivacy.erasure import ErasureRefused
from app.domain.dataprivacy.operator import OPERATOR_REQUEST_ID, erase_person
from app.lib.objectstore import LocalObjectStore
from tests.integration.dataprivacy.conftest import add_turn, demo_org_id, new_chat
from tests.integration.orgadmin.conftest import PASSWORD, World
from tests.support.stack import login

Client = AsyncTestClient[Litestar]


async def test_operator_erases_a_member_of_two_orgs_everywhere(
    client: Client, world: World, settings: Settings, store: LocalObjectStore
) -> None:
    person = await world.add_user("lost-access", "learner", name="Olive Operator-Erased")
    await world.enroll(person, failed=1)
    demo_id = await demo_org_id(world)
    async with world.engine.begin() as conn:
        await conn.execute(insert(Membership).values(id=uuid.uuid4(), org_id=demo_id, user_id=person, role="learner"))
    tokens = await login(client, world.email("lost-access"), world.slug, PASSWORD)
    chat = await new_chat(world, person)
    _, key = await add_turn(world, store, chat, person, f"my words {uuid.uuid4()}")

    # Neither org's admin may erase a member of another org (409): the operator's path is the way.
    summary = await erase_person(settings, world.email("lost-access").upper())  # emails match case-blind
    assert summary.orgs == 2
    assert (summary.submissions, summary.grades, summary.transcripts) == (1, 1, 1)
    assert summary.transcript_files_deleted == 1
    assert not (store.root / key).exists()
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 401  # their sessions ended
    async with world.engine.connect() as conn:
        assert await conn.scalar(select(User.name).where(User.id == person)) == "Erased user"
        assert list(await conn.scalars(select(Submission.answer).where(Submission.user_id == person))) == [
            {"erased": True}
        ]
        events = set(
            await conn.execute(
                select(RedactionEvent.org_id, RedactionEvent.requested_by).where(RedactionEvent.user_id == person)
            )
        )
        assert events == {(world.org_id, person), (demo_id, person)}
        audits = set(
            await conn.execute(
                select(AuditLogEntry.org_id, AuditLogEntry.request_id).where(
                    AuditLogEntry.entity_id == str(person), AuditLogEntry.action == "user.erased"
                )
            )
        )
        assert audits == {(world.org_id, OPERATOR_REQUEST_ID), (demo_id, OPERATOR_REQUEST_ID)}

    # Erased with every org: the email is gone, so a second run finds nobody.
    with pytest.raises(LookupError, match="nobody has the email"):
        await erase_person(settings, world.email("lost-access"))


async def test_operator_erasure_refuses_the_last_admin_and_changes_nothing(world: World, settings: Settings) -> None:
    with pytest.raises(ErasureRefused):
        await erase_person(settings, world.admin)
    async with world.engine.connect() as conn:
        assert await conn.scalar(select(User.is_active).where(User.email == world.admin)) is True


def test_the_command_wants_the_email_twice(capsys: Any) -> None:
    args = build_parser().parse_args(["erase", "user", "a@b.test", "--confirm", "a@b.test"])
    assert (args.erase_command, args.email, args.confirm) == ("user", "a@b.test", "a@b.test")
    mismatch: argparse.Namespace = build_parser().parse_args(["erase", "user", "a@b.test", "--confirm", "yes"])
    with pytest.raises(SystemExit, match="repeat the email after --confirm"):
        mismatch.func(mismatch)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["erase", "user", "a@b.test"])  # --confirm is required
    capsys.readouterr()
