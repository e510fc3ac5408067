"""Single sign-on routes.

Public (a browser with no Lyceum session): ``GET /v1/auth/sso/{org}`` (the providers for the sign-in page),
``GET /v1/auth/sso/{org}/login`` (302 to the provider), ``GET /v1/auth/sso/{org}/callback`` (HTML: the
hand-off to the web app, or an error page) and ``POST /v1/sso/session`` (the web app's one-time code
exchange, problem+json on failure). Admins: ``/v1/admin/sso/oidc`` and ``/v1/admin/sso/settings``.

Handlers stay thin: the query is read as a plain mapping (Litestar reserves a parameter named ``state``),
and an ``SsoRefused`` becomes the error page with its reason logged.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT, HTTP_302_FOUND
from redis.exceptions import RedisError

from app.domain.auth.cookies import session_cookies
from app.domain.sso.admin import SsoAdminService
from app.domain.sso.deps import handoff_dependencies, oidc_dependencies, sso_admin_dependencies
from app.domain.sso.handoff import HandoffService
from app.domain.sso.oidc import OidcService, SsoRefused
from app.domain.sso.pages import error_page, redirect_page
from app.domain.sso.schemas import (
    OidcConnectionIn,
    OidcConnectionOut,
    SsoProviders,
    SsoSessionOut,
    SsoSessionRequest,
    SsoSessionUser,
    SsoSettings,
)
from app.lib.auth import PUBLIC, is_admin

OrgPath = Annotated[str, Parameter(max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$")]


def _refused(request: Request[Any, Any, Any], exc: SsoRefused, step: str, org: str) -> Response[str]:
    structlog.get_logger("lyceum.sso").warning(
        "sso_refused", step=step, code=exc.code, reason=exc.detail, status=exc.status, org=org
    )
    return error_page(exc.status, exc.code, exc.detail, org=org)


def _unavailable(step: str, org: str) -> Response[str]:
    structlog.get_logger("lyceum.sso").error("sso_unavailable", step=step, org=org)
    # Redis (the state store) is down, as LTI launches answer it: nothing was validated or refused.
    response = error_page(503, "unavailable", "Sign-in is briefly unavailable; try again in a moment", org=org)
    response.headers["Retry-After"] = "5"
    return response


class SsoAuthController(Controller):
    path = "/auth/sso"
    tags = ["Single sign-on"]
    dependencies = oidc_dependencies

    @get("/{org:str}", opt={PUBLIC: True}, summary="The single sign-on providers an org offers (sign-in page)")
    async def providers(self, org: OrgPath, oidc_service: OidcService) -> SsoProviders:
        return await oidc_service.providers(org)

    @get(
        "/{org:str}/login",
        opt={PUBLIC: True},
        status_code=HTTP_302_FOUND,
        summary="Start OIDC sign-in for an org: 302 to its identity provider (?next= a path to open afterwards)",
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        org: OrgPath,
        oidc_service: OidcService,
        next_path: Annotated[str | None, Parameter(query="next", max_length=500)] = None,
    ) -> Response[str]:
        try:
            url = await oidc_service.login(org, next_path)
        except SsoRefused as exc:
            return _refused(request, exc, "login", org)
        except RedisError:
            return _unavailable("login", org)
        return Response(
            "",
            status_code=HTTP_302_FOUND,
            headers={"Location": url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    @get(
        "/{org:str}/callback",
        opt={PUBLIC: True},
        status_code=HTTP_200_OK,
        summary="Finish OIDC sign-in (the provider redirects here with code and state); answers HTML",
    )
    async def callback(self, request: Request[Any, Any, Any], org: OrgPath, oidc_service: OidcService) -> Response[str]:
        params = {name: request.query_params[name] for name in request.query_params}
        try:
            next_url = await oidc_service.callback(org, params)
        except SsoRefused as exc:
            return _refused(request, exc, "callback", org)
        except RedisError:
            return _unavailable("callback", org)
        return redirect_page(next_url)


class SsoSessionController(Controller):
    path = "/sso"
    tags = ["Single sign-on"]
    dependencies = handoff_dependencies

    @post(
        "/session",
        opt={PUBLIC: True},
        status_code=HTTP_200_OK,
        summary="Exchange a single sign-on's one-time code for a session (refresh_mode body or cookie)",
    )
    async def session(self, data: SsoSessionRequest, handoff_service: HandoffService) -> Response[SsoSessionOut]:
        done = await handoff_service.exchange(data.code)
        pair = done.pair
        body = SsoSessionOut(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            token_type=pair.token_type,
            org=done.org_slug,
            user=SsoSessionUser(id=done.grant.user_id, name=done.name, role=done.grant.role),
            protocol=done.grant.protocol,
            return_to=done.grant.return_to,
            refresh_token=pair.refresh_token,
        )
        if data.refresh_mode == "body":
            return Response(body)
        family = str(handoff_service.tokens.decode(pair.refresh_token or "", "refresh")["fam"])
        moved, cookies = session_cookies(handoff_service.settings, pair, family)
        body.refresh_token = None
        body.csrf_token = moved.csrf_token
        return Response(body, cookies=cookies)


class SsoAdminController(Controller):
    path = "/admin/sso"
    tags = ["Single sign-on"]
    guards = [is_admin]
    dependencies = sso_admin_dependencies

    @get("/oidc", summary="The org's OIDC connection (404 when there is none); the client secret is never shown")
    async def get_oidc(self, sso_admin_service: SsoAdminService) -> OidcConnectionOut:
        return await sso_admin_service.get_oidc()

    @put("/oidc", summary="Create or replace the org's OIDC connection (the issuer's discovery is checked: 422)")
    async def put_oidc(self, data: OidcConnectionIn, sso_admin_service: SsoAdminService) -> OidcConnectionOut:
        return await sso_admin_service.put_oidc(data)

    @delete("/oidc", status_code=HTTP_204_NO_CONTENT, summary="Remove the org's OIDC connection (its links go too)")
    async def delete_oidc(self, sso_admin_service: SsoAdminService) -> None:
        await sso_admin_service.delete_oidc()

    @get("/settings", summary="Whether members must sign in through single sign-on")
    async def get_settings(self, sso_admin_service: SsoAdminService) -> SsoSettings:
        return await sso_admin_service.get_settings()

    @put("/settings", summary="Require single sign-on for members (admins keep password sign-in: break-glass)")
    async def put_settings(self, data: SsoSettings, sso_admin_service: SsoAdminService) -> SsoSettings:
        return await sso_admin_service.put_settings(data)
