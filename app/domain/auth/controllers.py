from __future__ import annotations

from litestar import Controller, post
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from app.domain.auth.schemas import LoginRequest, RefreshRequest, TokenPair
from app.domain.auth.services import AuthService
from app.lib.auth import PUBLIC
from app.lib.security.principal import Principal
from app.runtime import Runtime


class AuthController(Controller):
    path = "/auth"
    tags = ["Authentication"]

    @post("/login", status_code=HTTP_200_OK, opt={PUBLIC: True}, summary="Sign in with email, password and org")
    async def login(self, data: LoginRequest, runtime: Runtime, request_id: str) -> TokenPair:
        return await AuthService(runtime, request_id).login(data.org, data.email, data.password)

    @post("/refresh", status_code=HTTP_200_OK, opt={PUBLIC: True}, summary="Rotate a refresh token")
    async def refresh(self, data: RefreshRequest, runtime: Runtime, request_id: str) -> TokenPair:
        return await AuthService(runtime, request_id).refresh(data.refresh_token)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="Revoke this session's tokens")
    async def logout(self, runtime: Runtime, principal: Principal, request_id: str) -> None:
        await AuthService(runtime, request_id).logout(principal)
