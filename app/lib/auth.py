"""Bearer-token authentication (HTTP and WebSocket upgrade) and role guards."""

from __future__ import annotations

from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult

from app.lib.errors import Forbidden, NotAuthenticated
from app.lib.resources import edge_resources
from app.lib.roles import ROLES, STAFF_ROLES
from app.lib.security.principal import Principal

PUBLIC = "public"  # route opt: no authentication


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Send 'Authorization: Bearer <access_token>' (get one from POST /v1/auth/login)")
    return token.strip()


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        edge = edge_resources(connection.app)
        # Signature and expiry first (no I/O), then the revocation state: logged out, password changed,
        # deactivated or no longer a member all answer 401. The state comes from Redis or, when Redis is
        # unreachable or has lost it, from PostgreSQL: no fail-open window (app/lib/security/denylist.py).
        principal = await edge.denylist.check(edge.tokens.principal(bearer_token(connection)))
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
