"""LTI administration routes: an org admin's platform registrations and dynamic-registration invitations
(``/v1/admin/lti/...``), and the tool endpoints that need no sign-in: the tool's public keys
(``/lti/jwks.json``) and LTI Dynamic Registration (``/lti/register``, gated by a one-time invitation)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, Response, delete, get, patch, post, route
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.domain.lti.admin_deps import (
    dynamic_registration_dependencies,
    registration_admin_dependencies,
    tool_key_set_dependencies,
)
from app.domain.lti.admin_schemas import PlatformIn, PlatformOut, PlatformUpdate, RegistrationInviteOut, ToolUrlsOut
from app.domain.lti.dynamic import DynamicRegistrationService, html_page
from app.domain.lti.jwks import ToolKeySetService
from app.domain.lti.registrations import RegistrationAdminService
from app.lib.auth import PUBLIC, is_admin
from app.lib.pagination import Page


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


JWKS_MAX_AGE_SECONDS = 300  # platforms cache the key set; a rotated key stays published far longer (grace days)


class LtiPlatformAdminController(Controller):
    dependencies = registration_admin_dependencies
    path = "/admin/lti"
    tags = ["LTI"]
    guards = [is_admin]

    @get("/platforms", summary="The org's LTI platform registrations (admins), oldest first")
    async def list_platforms(
        self, request: Request[Any, Any, Any], registration_admin_service: RegistrationAdminService, page: LimitOffset
    ) -> Page[PlatformOut]:
        return Page.of(await registration_admin_service.list(page), request)

    @post(
        "/platforms",
        status_code=HTTP_201_CREATED,
        summary="Register an LTI 1.3 platform (LMS) for this org (409 when its issuer + client_id is registered)",
    )
    async def create_platform(
        self, data: PlatformIn, registration_admin_service: RegistrationAdminService
    ) -> PlatformOut:
        return await registration_admin_service.create(data)

    @get("/platforms/{platform_id:uuid}", summary="One LTI platform registration")
    async def get_platform(
        self, platform_id: UUID, registration_admin_service: RegistrationAdminService
    ) -> PlatformOut:
        return await registration_admin_service.get(platform_id)

    @patch("/platforms/{platform_id:uuid}", summary="Edit an LTI platform registration (fields left out stay)")
    async def update_platform(
        self, platform_id: UUID, data: PlatformUpdate, registration_admin_service: RegistrationAdminService
    ) -> PlatformOut:
        return await registration_admin_service.update(platform_id, data)

    @delete(
        "/platforms/{platform_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove an LTI platform registration: launches through it stop (Lyceum users and grades stay)",
    )
    async def delete_platform(self, platform_id: UUID, registration_admin_service: RegistrationAdminService) -> None:
        await registration_admin_service.delete(platform_id)

    @post(
        "/registrations",
        status_code=HTTP_201_CREATED,
        summary="A one-time LTI Dynamic Registration link for this org (24 h) to paste into an LMS",
    )
    async def create_invite(self, registration_admin_service: RegistrationAdminService) -> RegistrationInviteOut:
        return await registration_admin_service.create_invite()

    @get("/tool", summary="The tool's URLs to paste into an LMS that registers Lyceum by hand")
    async def tool(self, registration_admin_service: RegistrationAdminService) -> ToolUrlsOut:
        return registration_admin_service.tool()


class LtiToolPublicController(Controller):
    path = "/lti"
    tags = ["LTI"]

    @get(
        "/jwks.json",
        opt={PUBLIC: True},
        dependencies=tool_key_set_dependencies,
        summary="The tool's public keys (JWKS): the active key and recently retired ones",
    )
    async def jwks(self, tool_key_set_service: ToolKeySetService) -> Response[dict[str, Any]]:
        return Response(
            await tool_key_set_service.key_set(),
            media_type="application/json",
            headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"},
        )

    @route(
        "/register",
        http_method=["GET", "POST"],
        opt={PUBLIC: True},
        dependencies=dynamic_registration_dependencies,
        summary="LTI Dynamic Registration (needs ?invite= from POST /v1/admin/lti/registrations); answers HTML",
    )
    async def register(
        self,
        request: Request[Any, Any, Any],
        dynamic_registration_service: DynamicRegistrationService,
        invite: Annotated[str | None, Parameter(query="invite", max_length=200)] = None,
        openid_configuration: Annotated[str | None, Parameter(query="openid_configuration", max_length=2000)] = None,
        registration_token: Annotated[str | None, Parameter(query="registration_token", max_length=8000)] = None,
    ) -> Response[str]:
        if request.method == "POST":  # the same parameters may come as a form
            form = await request.form()
            invite = invite or _text(form.get("invite"))
            openid_configuration = openid_configuration or _text(form.get("openid_configuration"))
            registration_token = registration_token or _text(form.get("registration_token"))
        outcome = await dynamic_registration_service.register(invite, openid_configuration, registration_token)
        return Response(
            html_page(outcome),
            status_code=outcome.status,
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )
