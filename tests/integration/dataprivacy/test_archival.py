"""``lyceum archive org``: the org's append-only rows go to a gzipped JSON Lines archive, then the org is
deleted through the owner-only archival grant (the append-only triggers let only that transaction pass);
other orgs are untouched and the grant does not outlive the run."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.cli import build_parser
from app.config import Settings
from app.db.models import AuditLogEntry, Organization, ProgressEvent, User
from app.domain.dataprivacy.archival import archive_org
from app.lib.objectstore import LocalObjectStore
from tests.integration.dataprivacy.conftest import add_turn, new_chat
from tests.integration.orgadmin.conftest import World, build_world, sign_in

Client = AsyncTestClient[Litestar]


async def test_archive_org_writes_the_rows_and_deletes_the_org(
    client: Client, settings: Settings, seeded: Any, store: LocalObjectStore, tmp_path: Path
) -> None:
    doomed: World = await build_world(settings)
    try:
        learner = await doomed.add_user("archived", "learner", name="Archie Archived")
        await doomed.enroll(learner, done=2)
        admin = await sign_in(client, doomed.admin, doomed.slug)
        assert (
            await client.put("/v1/admin/retention", headers=admin, json={"transcript_retention_days": 90})
        ).status_code == 200
        chat = await new_chat(doomed, learner)
        _, key = await add_turn(doomed, store, chat, learner, f"archived words {uuid.uuid4()}")
        async with doomed.engine.connect() as conn:
            demo_events = await conn.scalar(
                select(func.count()).select_from(ProgressEvent).join(Organization).where(Organization.slug == "demo")
            )

        args = build_parser().parse_args(["archive", "org", doomed.slug, "--out", str(tmp_path / "org.jsonl.gz")])
        assert (args.archive_command, args.slug) == ("org", doomed.slug)
        report = await archive_org(settings, doomed.slug, Path(args.out))
        assert report.rows["progress_events"] == 2
        assert report.rows["audit_log"] >= 1
        assert report.users_pseudonymised == 2  # the admin and the learner belonged to this org only

        with gzip.open(tmp_path / "org.jsonl.gz", "rt", encoding="utf-8") as handle:
            lines = [json.loads(line) for line in handle]
        assert lines[0]["organization"]["slug"] == doomed.slug
        tables = [line["table"] for line in lines[1:]]
        assert tables.count("progress_events") == 2
        assert "org.retention_updated" in {line["row"]["action"] for line in lines[1:] if line["table"] == "audit_log"}

        async with doomed.engine.connect() as conn:
            assert await conn.scalar(select(func.count()).where(Organization.id == doomed.org_id)) == 0
            assert await conn.scalar(select(func.count()).where(AuditLogEntry.org_id == doomed.org_id)) == 0
            assert await conn.scalar(select(func.count()).where(ProgressEvent.org_id == doomed.org_id)) == 0
            assert await conn.scalar(select(User.name).where(User.id == learner)) == "Erased user"
            assert await conn.scalar(text("select count(*) from lyceum_archival_grants")) == 0
            assert (
                await conn.scalar(
                    select(func.count())
                    .select_from(ProgressEvent)
                    .join(Organization)
                    .where(Organization.slug == "demo")
                )
                == demo_events
            )
        assert not (store.root / key).exists()
        with pytest.raises(LookupError, match="no organisation"):
            await archive_org(settings, doomed.slug, tmp_path / "again.jsonl.gz")
    finally:
        await doomed.engine.dispose()


async def test_append_only_tables_still_refuse_the_owner_without_a_grant(world: World) -> None:
    """The owner itself is refused outside an archival run: the grant, not the role, opens the triggers."""
    learner = await world.add_user("ledger", "learner")
    await world.enroll(learner, done=1)
    statement = text("delete from progress_events where org_id = :o")
    with pytest.raises(DBAPIError, match="append-only"):
        async with world.engine.begin() as conn:
            await conn.execute(statement, {"o": world.org_id})
