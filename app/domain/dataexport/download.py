"""``GET /v1/exports/<token>``: the download behind a signed export link. No session: the link is the
capability, and the org it carries (under the MAC) scopes the transaction, so the export is read under
row-level security like any other row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.config import Settings
from app.db.engine import Database
from app.db.models import DataExport
from app.domain.audit.services import record_audit
from app.domain.dataexport.links import ExportGone, verify_link
from app.lib.errors import NotFound
from app.lib.objectstore import ObjectStore


@dataclass(frozen=True, slots=True)
class ExportDownload:
    content: bytes
    filename: str


class ExportDownloads:
    """``GET /v1/exports/<token>``: no session, the signed link is the capability. The token's org scopes the
    transaction, so the export is read under row-level security like any other row."""

    def __init__(self, db: Database, objects: ObjectStore, settings: Settings, request_id: str) -> None:
        self.db = db
        self.objects = objects
        self.settings = settings
        self.request_id = request_id

    async def download(self, token: str) -> ExportDownload:
        link = verify_link(self.settings.secret_key.value, token)
        now = datetime.now(UTC)
        async with self.db.transaction(link.org_id) as session:
            row = await session.get(DataExport, link.export_id)
            if row is None:
                raise NotFound("No such export")
            if row.status != "ready" or row.object_key is None or row.expires_at is None or row.expires_at <= now:
                raise ExportGone("This export has expired: ask for a new one")
            try:
                content = await self.objects.get(row.object_key)
            except FileNotFoundError:
                raise ExportGone("This export's file is gone: ask for a new one") from None
            record_audit(
                session,
                org_id=link.org_id,
                actor_id=None,  # whoever holds the link; the subject is in the entry
                action="data_export.downloaded",
                entity_type="data_export",
                entity_id=row.id,
                after={"subject_id": str(row.user_id), "size_bytes": len(content)},
                request_id=self.request_id,
            )
            day = (row.completed_at or now).date().isoformat()
        return ExportDownload(content, f"lyceum-export-{day}.zip")
