from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import Cookie
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from app.config import Settings
from app.domain.auth.cookies import CSRF_HEADER, REFRESH_COOKIE, cleared_cookies, csrf_matches, deliver
from app.domain.auth.deps import auth_dependencies
from app.domain.auth.schemas import LoginRequest, RefreshRequest, TokenPair
from app.domain.auth.services import AuthService
from app.lib.auth import PUBLIC
from app.lib.errors import Forbidden, NotAuthenticated
from app.lib.problems import problem_response
from app.lib.security.principal import Principal
from app.lib.security.tokens import TokenCodec


def refused(request: Request[Any, Any, Any], exc: NotAuthenticated, cookies: list[Cookie]) -> Response[Any]:
    """A 401 problem that also expires the session cookies: a dead session is not retried on every load."""
    response = problem_response(
        request, status=exc.status, type_=exc.type, title=exc.title, detail=exc.detail, headers=exc.headers
    )
    response.cookies.extend(cookies)
    return response


class AuthController(Controller):
    dependencies = auth_dependencies
    path = "/auth"
    tags = ["Authentication"]

    @post("/login", status_code=HTTP_200_OK, opt={PUBLIC: True}, summary="Sign in with email, password and org")
    async def login(
        self, data: LoginRequest, auth_service: AuthService, settings: Settings, tokens: TokenCodec
    ) -> Response[TokenPair]:
        pair = await auth_service.login(data.org, data.email, data.password)
        return deliver(settings, tokens, pair, data.refresh_mode)

    @post(
        "/refresh",
        status_code=HTTP_200_OK,
        opt={PUBLIC: True},
        summary="Rotate a refresh token (in the body, or the session cookie with X-CSRF-Token)",
    )
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        auth_service: AuthService,
        settings: Settings,
        tokens: TokenCodec,
        data: RefreshRequest | None = None,
        csrf: str | None = Parameter(header=CSRF_HEADER, required=False, default=None),
    ) -> Response[Any]:
        if data is not None and data.refresh_token is not None:
            return Response(await auth_service.refresh(data.refresh_token))
        token = request.cookies.get(REFRESH_COOKIE)
        if not token:
            raise NotAuthenticated("Send the refresh token in the body, or sign in again (there is no session cookie)")
        cleared = cleared_cookies(settings)
        try:
            family = str(tokens.decode(token, "refresh")["fam"])
        except NotAuthenticated as exc:
            return refused(request, exc, cleared)
        if not csrf or not csrf_matches(settings, family, csrf):
            # Not cleared: a forged request must not be able to sign the victim out either.
            raise Forbidden("A cookie refresh needs the X-CSRF-Token header (the value of the lyceum_csrf cookie)")
        try:
            pair = await auth_service.refresh(token)
        except NotAuthenticated as exc:
            return refused(request, exc, cleared)
        return deliver(settings, tokens, pair, "cookie")

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="Revoke this session's tokens")
    async def logout(self, auth_service: AuthService, settings: Settings, principal: Principal) -> Response[None]:
        await auth_service.logout(principal)
        # Harmless for API clients; the web app's session cookie goes with the session.
        return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=cleared_cookies(settings))
