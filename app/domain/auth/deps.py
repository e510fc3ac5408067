"""Providers of the auth services and of what the cookie handlers need (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.domain.auth.services import AuthService
from app.domain.components import Components
from app.lib.security.tokens import TokenCodec


def provide_auth_service(components: Components, request_id: str) -> AuthService:
    return AuthService(
        components.db,
        request_id,
        settings=components.settings,
        tokens=components.tokens,
        denylist=components.denylist,
        limiter=components.limiter,
        redis=components.redis,
    )


def provide_tokens(components: Components) -> TokenCodec:
    return components.tokens


auth_dependencies = {
    "auth_service": Provide(provide_auth_service, sync_to_thread=False),
    "tokens": Provide(provide_tokens, sync_to_thread=False),
}
