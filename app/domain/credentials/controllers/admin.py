"""Staff routes: the org's issuer profile and key rotation (admins); the credentials list and revocation
(instructors and admins)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK

from app.domain.credentials.admin import CredentialAdminService, IssuerAdminService
from app.domain.credentials.deps import credential_admin_dependencies, issuer_admin_dependencies
from app.domain.credentials.schemas import (
    AdminCredentialOut,
    CredentialStatusFilter,
    IssuerOut,
    IssuerProfileIn,
    RevokeIn,
)
from app.lib.auth import is_admin, is_staff
from app.lib.pagination import Page


class IssuerAdminController(Controller):
    dependencies = issuer_admin_dependencies
    path = "/admin/issuer"
    tags = ["Credentials"]
    guards = [is_admin]

    @get("/", summary="The org as an issuer: did:web, profile (defaults to the org's name) and keys")
    async def view(self, issuer_admin_service: IssuerAdminService) -> IssuerOut:
        return await issuer_admin_service.view()

    @put("/", summary="Edit the issuer profile credentials name (audited)")
    async def update(self, data: IssuerProfileIn, issuer_admin_service: IssuerAdminService) -> IssuerOut:
        return await issuer_admin_service.update_profile(data)

    @post(
        "/keys/rotate",
        status_code=HTTP_200_OK,
        summary="Rotate the signing key: the old one is retired but stays published; new credentials use the new one",
    )
    async def rotate(self, issuer_admin_service: IssuerAdminService) -> IssuerOut:
        return await issuer_admin_service.rotate()


class CredentialAdminController(Controller):
    dependencies = credential_admin_dependencies
    path = "/admin/credentials"
    tags = ["Credentials"]
    guards = [is_staff]

    @get("/", summary="The org's issued credentials (instructors and admins), newest first")
    async def list_credentials(
        self,
        request: Request[Any, Any, Any],
        credential_admin_service: CredentialAdminService,
        page: LimitOffset,
        status: Annotated[CredentialStatusFilter | None, Parameter(query="status")] = None,
        course_id: Annotated[UUID | None, Parameter(query="course_id")] = None,
    ) -> Page[AdminCredentialOut]:
        return Page.of(await credential_admin_service.list(page, status, course_id), request)

    @post(
        "/{credential_id:uuid}/revoke",
        status_code=HTTP_200_OK,
        summary="Revoke a credential: its status-list bit is set and the list re-signed (409 already-revoked)",
    )
    async def revoke(
        self, credential_id: UUID, data: RevokeIn, credential_admin_service: CredentialAdminService
    ) -> AdminCredentialOut:
        return await credential_admin_service.revoke(credential_id, data.reason)
