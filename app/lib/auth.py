"""Bearer-token authentication (HTTP and WebSocket upgrade) and role guards."""

from __future__ import annotations

import time
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult

from app.lib.errors import Forbidden, NotAuthenticated
from app.lib.resources import edge_resources
from app.lib.roles import ROLES, STAFF_ROLES
from app.lib.security.principal import Principal
from app.lib.security.tokens import TokenCodec

PUBLIC = "public"  # route opt: no authentication
VERIFIED_TOKENS_MAX = 4096  # per process: ~2 MB of token strings at most


class VerifiedTokens:
    """The principal of each access token whose signature and claims this process has verified, until the
    token expires. Verifying an HS256 JWT with PyJWT costs ~80 us of CPU (a third of a cached course read,
    issue 15), and a client sends the same token on every request for its lifetime. Only the signature check
    is cached, keyed by the exact token string: a token that differs in one byte is verified afresh, expiry is
    checked on every use, and revocation is not cached here at all (the denylist decides on every request).
    Bounded: past ``VERIFIED_TOKENS_MAX`` the oldest entry goes."""

    def __init__(self, limit: int = VERIFIED_TOKENS_MAX) -> None:
        self._limit = limit
        # token -> (the codec that verified it, its principal): an app with another secret never hits.
        self._principals: dict[str, tuple[TokenCodec, Principal]] = {}

    def principal(self, codec: TokenCodec, token: str) -> Principal:
        entry = self._principals.get(token)
        if entry is not None:
            verifier, principal = entry
            if verifier is codec and time.time() < principal.expires_at:  # PyJWT's rule: expired once now >= exp
                return principal
            del self._principals[token]
        principal = codec.principal(token)  # raises NotAuthenticated: nothing is cached
        if len(self._principals) >= self._limit:
            del self._principals[next(iter(self._principals))]
        self._principals[token] = (codec, principal)
        return principal


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Send 'Authorization: Bearer <access_token>' (get one from POST /v1/auth/login)")
    return token.strip()


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    verified = VerifiedTokens()  # per process (an entry counts only for the codec that verified it)

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        edge = edge_resources(connection.app)
        # Signature and expiry first (no I/O), then the revocation state: logged out, password changed,
        # deactivated or no longer a member all answer 401. The state comes from Redis or, when Redis is
        # unreachable or has lost it, from PostgreSQL: no fail-open window (app/lib/security/denylist.py).
        principal = await edge.denylist.check(self.verified.principal(edge.tokens, bearer_token(connection)))
        connection.scope["state"]["principal"] = principal
        # Every log line of this request from here on carries who and which org.
        structlog.contextvars.bind_contextvars(org_id=str(principal.org_id), user_id=str(principal.user_id))
        return AuthenticationResult(user=principal, auth=principal.token_id)


def requires_roles(*roles: str) -> Any:
    """Guard: the caller holds at least one of ``roles`` in the current org."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if connection.scope.get("method") == "OPTIONS":
            # Litestar's generated OPTIONS handler only answers `Allow`; it runs unauthenticated (a CORS
            # preflight never carries a token), so there is nobody to check. The app has no other
            # OPTIONS handler (tests/integration/api/test_bad_input.py keeps it that way).
            return
        principal: Principal = connection.user
        if not principal.has_any(*roles):
            raise Forbidden(f"This needs one of the roles: {', '.join(roles)}")

    guard.__name__ = f"requires_{'_or_'.join(roles)}"
    return guard


is_admin = requires_roles("admin")
is_staff = requires_roles(*STAFF_ROLES)
is_member = requires_roles(*ROLES)
