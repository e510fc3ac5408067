"""Per-org transcript retention: the admin setting, and the worker's real purge task deleting old text only
(files another kept row shares stay), keeping the rows' metrics, and recording the run."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.db.models import AIInteraction, AuditLogEntry, RedactionEvent
from app.domain.components import Components
from app.lib.objectstore import LocalObjectStore
from jobs import tasks
from tests.integration.dataprivacy.conftest import add_turn, new_chat
from tests.integration.orgadmin.conftest import PASSWORD, World, sign_in

Client = AsyncTestClient[Litestar]


async def test_retention_setting_is_validated_and_audited(client: Client, world: World) -> None:
    admin = await sign_in(client, world.admin, world.slug)
    assert (await client.get("/v1/admin/retention", headers=admin)).json() == {"transcript_retention_days": None}
    for bad in (0, 3651, -5):
        refused = await client.put("/v1/admin/retention", headers=admin, json={"transcript_retention_days": bad})
        assert refused.status_code in (400, 422), refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    saved = await client.put("/v1/admin/retention", headers=admin, json={"transcript_retention_days": 30})
    assert saved.status_code == 200, saved.text
    assert (await client.get("/v1/admin/retention", headers=admin)).json() == {"transcript_retention_days": 30}
    async with world.engine.connect() as conn:
        actions = list(
            await conn.scalars(
                select(AuditLogEntry.action).where(
                    AuditLogEntry.org_id == world.org_id, AuditLogEntry.action == "org.retention_updated"
                )
            )
        )
    assert actions == ["org.retention_updated"]
    await world.add_user("retention-learner", "learner")
    as_learner = await sign_in(client, world.email("retention-learner"), world.slug, PASSWORD)
    assert (await client.get("/v1/admin/retention", headers=as_learner)).status_code == 403


async def test_purge_deletes_old_text_only_and_keeps_metrics(
    client: Client, world: World, store: LocalObjectStore, components: Components
) -> None:
    admin = await sign_in(client, world.admin, world.slug)
    await client.put("/v1/admin/retention", headers=admin, json={"transcript_retention_days": 30})
    learner = await world.add_user("purge-learner", "learner")
    chat = await new_chat(world, learner)
    old_alone, old_alone_key = await add_turn(world, store, chat, learner, "old and alone", days_ago=45)
    old_shared, shared_key = await add_turn(world, store, chat, learner, "said twice", days_ago=40)
    new_shared, _ = await add_turn(world, store, chat, learner, "said twice", days_ago=1)
    preview, preview_key = await add_turn(world, store, chat, learner, "an old preview", days_ago=60, purpose="preview")
    fresh, fresh_key = await add_turn(world, store, chat, learner, "fresh", days_ago=2)

    ctx: Any = {"components": components}
    result = await tasks.purge_expired_transcripts(ctx)
    assert result["purged"] >= 3

    assert not (store.root / old_alone_key).exists()
    assert not (store.root / preview_key).exists()
    assert (store.root / shared_key).exists()  # the newer turn with the same text still shows it
    assert (store.root / fresh_key).exists()
    async with world.engine.connect() as conn:
        rows = {
            row.id: row for row in await conn.execute(select(AIInteraction).where(AIInteraction.session_id == chat))
        }
        purges = list(
            await conn.scalars(
                select(AuditLogEntry.after).where(
                    AuditLogEntry.org_id == world.org_id, AuditLogEntry.action == "transcripts.purged"
                )
            )
        )
        events = list(
            await conn.scalars(
                select(RedactionEvent.detail).where(
                    RedactionEvent.org_id == world.org_id, RedactionEvent.kind == "transcripts_purged"
                )
            )
        )
    for purged in (old_alone, old_shared, preview):
        row = rows[purged]
        assert row.content_purged_at is not None
        assert (row.input_tokens, row.output_tokens, row.content_hash) == (120, 80, row.content_hash)
        assert row.guardrail_outcomes == [{"name": "pii", "action": "pass", "score": 0.0, "detail": ""}]
    for kept in (new_shared, fresh):
        assert rows[kept].content_purged_at is None
    assert [entry["purged"] for entry in purges] == [3]
    assert [event["purged"] for event in events] == [3]

    # The learner's transcript shows purged turns as purged, not as an error.
    as_learner = await sign_in(client, world.email("purge-learner"), world.slug, PASSWORD)
    transcript = await client.get(f"/v1/tutor/sessions/{chat}", headers=as_learner)
    assert transcript.status_code == 200, transcript.text
    turns = {turn["interaction_id"]: turn for turn in transcript.json()["turns"]}
    assert (turns[str(old_alone)]["purged"], turns[str(old_alone)]["user"]) == (True, "")
    assert (turns[str(fresh)]["purged"], turns[str(fresh)]["user"]) == (False, "fresh")

    # A second run finds nothing more in this org and records nothing.
    await tasks.purge_expired_transcripts(ctx)
    async with world.engine.connect() as conn:
        again = list(
            await conn.scalars(
                select(AuditLogEntry.id).where(
                    AuditLogEntry.org_id == world.org_id, AuditLogEntry.action == "transcripts.purged"
                )
            )
        )
    assert len(again) == 1
