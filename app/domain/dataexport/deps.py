"""Providers of the personal-data export services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.dataexport.download import ExportDownloads
from app.domain.dataexport.services import DataExportService
from app.lib.security.principal import Principal


def provide_data_export_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> DataExportService:
    return DataExportService(tenant_db, principal, request_id, settings=components.settings, queue=components.queue)


def provide_export_downloads(components: Components, request_id: str) -> ExportDownloads:
    # No principal: the download link is the capability, and its signed org scopes the read.
    return ExportDownloads(components.db, components.tutor.objects, components.settings, request_id)


data_export_dependencies = {
    "data_export_service": Provide(provide_data_export_service, sync_to_thread=False),
}
export_download_dependencies = {
    "export_downloads": Provide(provide_export_downloads, sync_to_thread=False),
}
