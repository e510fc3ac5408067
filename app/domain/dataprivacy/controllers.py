"""Data-rights routes: the org's transcript retention (admins), erasure of oneself (any member) and of a
member by an org admin."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post, put
from litestar.status_codes import HTTP_200_OK

from app.domain.dataprivacy.deps import dataprivacy_dependencies
from app.domain.dataprivacy.erasure import ErasureService
from app.domain.dataprivacy.schemas import AdminErasureIn, ErasureSummary, RetentionSettings, SelfErasureIn
from app.domain.dataprivacy.services import RetentionService
from app.lib.auth import is_admin, is_member
from app.lib.security.principal import Principal


class RetentionAdminController(Controller):
    dependencies = dataprivacy_dependencies
    path = "/admin"
    tags = ["Data rights"]
    guards = [is_admin]

    @get("/retention", summary="How long the org keeps AI transcript text (days; null = forever)")
    async def get_retention(self, retention_service: RetentionService) -> RetentionSettings:
        return await retention_service.get()

    @put("/retention", summary="Set how long the org keeps AI transcript text (1-3650 days, or null = forever)")
    async def put_retention(self, data: RetentionSettings, retention_service: RetentionService) -> RetentionSettings:
        return await retention_service.set(data)

    @post(
        "/users/{user_id:uuid}/erasure",
        status_code=HTTP_200_OK,
        summary="Erase a member's personal data (admins; not for members of other orgs, yourself or the last admin)",
    )
    async def erase_user(
        self, user_id: UUID, data: AdminErasureIn, erasure_service: ErasureService, principal: Principal
    ) -> ErasureSummary:
        return await erasure_service.erase_by_admin(principal, user_id)


class SelfErasureController(Controller):
    dependencies = dataprivacy_dependencies
    path = "/me"
    tags = ["Data rights"]
    guards = [is_member]

    @post(
        "/erasure",
        status_code=HTTP_200_OK,
        summary="Erase your personal data in every org you belong to and end your account (needs your password)",
    )
    async def erase_me(
        self, data: SelfErasureIn, erasure_service: ErasureService, principal: Principal
    ) -> ErasureSummary:
        return await erasure_service.erase_self(principal, data.current_password)
