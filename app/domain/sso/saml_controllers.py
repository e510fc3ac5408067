"""SAML routes: the sign-in (``/v1/auth/sso/{org}/saml/...``: login, ACS, SP metadata; public) and the org
admin's connection (``/v1/admin/sso/saml``). The ACS hands the browser to the web app with a one-time code
that the shared exchange (``POST /v1/sso/session``, app/domain/sso/controllers.py) trades for a session.

The browser-facing handlers answer HTML pages, never a framework 500 or a JSON problem a browser would show raw:
a ``SamlRefused`` becomes the error page (its 4xx) with the reason logged; Redis down is a 503 page.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT, HTTP_302_FOUND
from redis.exceptions import RedisError

from app.domain.sso.controllers import OrgPath
from app.domain.sso.pages import redirect_page
from app.domain.sso.saml import SamlRefused, SamlSignInService
from app.domain.sso.saml_admin import SamlAdminService
from app.domain.sso.saml_deps import saml_admin_dependencies, saml_sign_in_dependencies
from app.domain.sso.saml_pages import error_page
from app.domain.sso.saml_schemas import SamlConnectionIn, SamlConnectionOut
from app.lib.auth import PUBLIC, is_admin
from app.lib.inputs import FormUnreadable, urlencoded_fields

MAX_FORM_FIELDS = 20


def _log() -> structlog.stdlib.BoundLogger:
    return structlog.get_logger("lyceum.sso.saml")  # type: ignore[no-any-return]


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The POST binding's urlencoded body as name -> first value, or SamlRefused (400/413/415)."""
    try:
        return await urlencoded_fields(request, max_fields=MAX_FORM_FIELDS)
    except FormUnreadable as exc:
        raise SamlRefused(exc.code, exc.detail, exc.status) from exc


def _refused(request: Request[Any, Any, Any], exc: SamlRefused, step: str, org: str) -> Response[str]:
    _log().warning(
        "saml_refused",
        step=step,
        org=org[:63],
        code=exc.code,
        reason=exc.detail,
        status=exc.status,
        path=request.url.path,
    )
    return error_page(exc.status, exc.code, exc.detail, org if exc.code != "unknown_org" else "")


def _unavailable(request: Request[Any, Any, Any], step: str) -> Response[str]:
    _log().error("saml_unavailable", step=step, path=request.url.path)
    response = error_page(503, "unavailable", "Lyceum is briefly unavailable; try again in a moment")
    response.headers["Retry-After"] = "5"
    return response


class SamlSignInController(Controller):
    """The SP's endpoints, public: the browser (sent by Lyceum or the IdP) calls them with no Lyceum session."""

    path = "/auth/sso/{org:str}/saml"
    tags = ["Single sign-on"]
    dependencies = saml_sign_in_dependencies

    @get(
        "/login",
        opt={PUBLIC: True},
        status_code=HTTP_302_FOUND,
        summary="Start SAML sign-in: redirects to the org's identity provider with an AuthnRequest",
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        org: OrgPath,
        saml_sign_in_service: SamlSignInService,
        next_path: Annotated[str | None, Parameter(query="next", max_length=500)] = None,
    ) -> Response[str]:
        try:
            url = await saml_sign_in_service.login(org, next_path)
        except SamlRefused as exc:
            return _refused(request, exc, "login", org)
        except RedisError:
            return _unavailable(request, "login")
        return Response(
            "",
            status_code=HTTP_302_FOUND,
            headers={"Location": url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    @post(
        "/acs",
        opt={PUBLIC: True},
        status_code=HTTP_200_OK,
        summary="SAML assertion consumer service (HTTP-POST binding): the IdP's signed response",
    )
    async def acs(
        self, request: Request[Any, Any, Any], org: OrgPath, saml_sign_in_service: SamlSignInService
    ) -> Response[str]:
        try:
            next_url = await saml_sign_in_service.acs(org, await _form(request))
        except SamlRefused as exc:
            return _refused(request, exc, "acs", org)
        except RedisError:
            return _unavailable(request, "acs")
        return redirect_page(next_url)

    @get(
        "/metadata",
        opt={PUBLIC: True},
        summary="The org's SAML service provider metadata (entity id, ACS URL) for its identity provider",
    )
    async def metadata(
        self, request: Request[Any, Any, Any], org: OrgPath, saml_sign_in_service: SamlSignInService
    ) -> Response[str]:
        try:
            xml = await saml_sign_in_service.metadata(org)
        except SamlRefused as exc:
            return _refused(request, exc, "metadata", org)
        return Response(
            xml,
            media_type="application/samlmetadata+xml",
            headers={"Cache-Control": "public, max-age=300", "Content-Disposition": 'inline; filename="metadata.xml"'},
        )


class SamlAdminController(Controller):
    dependencies = saml_admin_dependencies
    path = "/admin/sso/saml"
    tags = ["Single sign-on"]
    guards = [is_admin]

    @get(summary="The org's SAML connection, and the SP entity id, ACS URL and metadata URL to give the IdP")
    async def get_connection(self, saml_admin_service: SamlAdminService) -> SamlConnectionOut:
        return await saml_admin_service.get()

    @put(summary="Create or replace the org's SAML connection (metadata validated; a URL is fetched now)")
    async def put_connection(self, data: SamlConnectionIn, saml_admin_service: SamlAdminService) -> SamlConnectionOut:
        return await saml_admin_service.put(data)

    @delete(
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove the org's SAML connection: SAML sign-in stops (users and their accounts stay)",
    )
    async def delete_connection(self, saml_admin_service: SamlAdminService) -> None:
        await saml_admin_service.delete()
