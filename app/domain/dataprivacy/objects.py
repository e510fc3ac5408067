"""Deleting transcript files safely. Keys are content addressed (``tutor/<org_id>/<hash[:2]>/<hash>``): two
turns with identical text share one file, so a file goes only when no row of the org that still shows its
text points at it. Deletes run after the commit that marked the rows purged: a failed delete leaves an orphan
file (harmless, no row shows it), never a row pointing at text that is gone."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import structlog
from sqlalchemy import select

from app.db.engine import Database
from app.db.models import AIInteraction
from app.lib.objectstore import ObjectStore

log = structlog.get_logger("lyceum.dataprivacy")


async def unreferenced(db: Database, org_id: UUID, keys: Iterable[str]) -> list[str]:
    """The keys no unpurged ``ai_interactions`` row of the org still uses."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    async with db.transaction(org_id) as session:
        kept = set(
            await session.scalars(
                select(AIInteraction.object_key)
                .where(AIInteraction.object_key.in_(wanted), AIInteraction.content_purged_at.is_(None))
                .distinct()
            )
        )
    return [key for key in wanted if key not in kept]


async def delete_objects(objects: ObjectStore, keys: Iterable[str]) -> int:
    """Delete each file; returns how many were there. A failure is logged and left for the next run."""
    deleted = 0
    for key in keys:
        try:
            deleted += int(await objects.delete(key))
        except OSError as exc:
            log.warning("dataprivacy.object_delete_failed", key=key, error=str(exc))
    return deleted
