"""Personal-data export routes: a member's own (``/v1/me/export``), an admin's of one member
(``/v1/admin/users/{user_id}/export``), and the download behind the signed link (``/v1/exports/{token}``).

GET asks for an export when there is none to show (so a page can simply poll it); POST always asks for a
fresh one. Both answer 200 with the download link once it is ready, else 202 with ``Retry-After``."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from app.domain.dataexport.deps import data_export_dependencies, export_download_dependencies
from app.domain.dataexport.download import ExportDownloads
from app.domain.dataexport.schemas import DataExportOut
from app.domain.dataexport.services import POLL_AFTER_SECONDS, DataExportService, ExportState
from app.lib.auth import PUBLIC, is_admin, is_member
from app.lib.throttle import RATE_LIMIT

_ANSWERS = (
    "200 with `download_url` when the latest export is ready; 202 (with `Retry-After`) while it is being "
    "built. 429 when a new export would exceed LYCEUM_EXPORT_MAX_PER_DAY for this person in 24 hours."
)


def _answer(state: ExportState) -> Response[DataExportOut]:
    if state.ready:
        return Response(state.export, status_code=HTTP_200_OK)
    return Response(state.export, status_code=HTTP_202_ACCEPTED, headers={"Retry-After": str(POLL_AFTER_SECONDS)})


class MyExportController(Controller):
    dependencies = data_export_dependencies
    path = "/me/export"
    tags = ["Data rights"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get(
        "/",
        summary="Your data in this organization as a zip: its state, asking for one when there is none",
        description=f"Poll this. No export, or the last one failed or expired: a new one is asked for. {_ANSWERS}",
    )
    async def mine(self, data_export_service: DataExportService) -> Response[DataExportOut]:
        return _answer(await data_export_service.current())

    @post(
        "/",
        summary="Ask for a fresh export of your data (a pending one is returned as it is)",
        description=_ANSWERS,
        status_code=HTTP_202_ACCEPTED,
    )
    async def ask(self, data_export_service: DataExportService) -> Response[DataExportOut]:
        return _answer(await data_export_service.current(fresh=True))


class MemberExportController(Controller):
    dependencies = data_export_dependencies
    path = "/admin/users/{user_id:uuid}/export"
    tags = ["Data rights"]
    guards = [is_admin]
    opt = {RATE_LIMIT: "api"}

    @get(
        "/",
        summary="One member's data in this organization as a zip (admins): its state, asking when none",
        description=f"404 when the user is not a member of your organization. {_ANSWERS}",
    )
    async def member(self, user_id: UUID, data_export_service: DataExportService) -> Response[DataExportOut]:
        return _answer(await data_export_service.current(user_id))

    @post(
        "/",
        summary="Ask for a fresh export of one member's data (admins)",
        description=f"404 when the user is not a member of your organization. {_ANSWERS}",
        status_code=HTTP_202_ACCEPTED,
    )
    async def ask_member(self, user_id: UUID, data_export_service: DataExportService) -> Response[DataExportOut]:
        return _answer(await data_export_service.current(user_id, fresh=True))


class ExportDownloadController(Controller):
    dependencies = export_download_dependencies
    path = "/exports"
    tags = ["Data rights"]
    opt = {PUBLIC: True}

    @get(
        "/{token:str}",
        summary="Download an export (the zip); the signed link is the credential, no sign-in",
        description="404 for a link that is not ours (or tampered with); 410 once the link or export expired.",
        media_type="application/zip",
        security=[],
    )
    async def download(self, token: str, export_downloads: ExportDownloads) -> Response[bytes]:
        got = await export_downloads.download(token)
        return Response(
            got.content,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{got.filename}"',
                "Cache-Control": "no-store",
            },
        )
