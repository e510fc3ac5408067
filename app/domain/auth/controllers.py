from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import Cookie
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from app.domain.auth.cookies import CSRF_HEADER, REFRESH_COOKIE, cleared_cookies, csrf_matches, deliver
from app.domain.auth.schemas import LoginRequest, RefreshRequest, TokenPair
from app.domain.auth.services import AuthService
from app.lib.auth import PUBLIC
from app.lib.errors import Forbidden, NotAuthenticated
from app.lib.problems import problem_response
from app.lib.security.principal import Principal
from app.runtime import Runtime


def refused(request: Request[Any, Any, Any], exc: NotAuthenticated, cookies: list[Cookie]) -> Response[Any]:
    """A 401 problem that also expires the session cookies: a dead session is not retried on every load."""
    response = problem_response(
        request, status=exc.status, type_=exc.type, title=exc.title, detail=exc.detail, headers=exc.headers
    )
    response.cookies.extend(cookies)
    return response


class AuthController(Controller):
    path = "/auth"
    tags = ["Authentication"]

    @post("/login", status_code=HTTP_200_OK, opt={PUBLIC: True}, summary="Sign in with email, password and org")
    async def login(self, data: LoginRequest, runtime: Runtime, request_id: str) -> Response[TokenPair]:
        pair = await AuthService(runtime, request_id).login(data.org, data.email, data.password)
        return deliver(runtime, pair, data.refresh_mode)

    @post(
        "/refresh",
        status_code=HTTP_200_OK,
        opt={PUBLIC: True},
        summary="Rotate a refresh token (in the body, or the session cookie with X-CSRF-Token)",
    )
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        runtime: Runtime,
        request_id: str,
        data: RefreshRequest | None = None,
        csrf: str | None = Parameter(header=CSRF_HEADER, required=False, default=None),
    ) -> Response[Any]:
        service = AuthService(runtime, request_id)
        if data is not None and data.refresh_token is not None:
            return Response(await service.refresh(data.refresh_token))
        token = request.cookies.get(REFRESH_COOKIE)
        if not token:
            raise NotAuthenticated("Send the refresh token in the body, or sign in again (there is no session cookie)")
        cleared = cleared_cookies(runtime.settings)
        try:
            family = str(runtime.tokens.decode(token, "refresh")["fam"])
        except NotAuthenticated as exc:
            return refused(request, exc, cleared)
        if not csrf or not csrf_matches(runtime.settings, family, csrf):
            # Not cleared: a forged request must not be able to sign the victim out either.
            raise Forbidden("A cookie refresh needs the X-CSRF-Token header (the value of the lyceum_csrf cookie)")
        try:
            pair = await service.refresh(token)
        except NotAuthenticated as exc:
            return refused(request, exc, cleared)
        return deliver(runtime, pair, "cookie")

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="Revoke this session's tokens")
    async def logout(self, runtime: Runtime, principal: Principal, request_id: str) -> Response[None]:
        await AuthService(runtime, request_id).logout(principal)
        # Harmless for API clients; the web app's session cookie goes with the session.
        return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=cleared_cookies(runtime.settings))
