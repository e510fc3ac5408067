"""JWT access and refresh tokens (HS256 with LYCEUM_SECRET_KEY).

Access tokens are short-lived and checked on every request against the user's revocation state
(app.lib.security.denylist: revoked logins, token version, membership). Refresh tokens carry a family id;
each use rotates them (see app.domain.auth.services). Both carry ``ver``, the user's token version at
issue: a password change or reset, or a deactivation, raises it and so ends every older token.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import jwt

from app.lib.errors import NotAuthenticated
from app.lib.security.principal import Principal

ISSUER = "lyceum"
TokenType = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_id: str
    expires_at: int


class TokenCodec:
    def __init__(self, secret: str, access_ttl: int, refresh_ttl: int) -> None:
        self._secret = secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def issue(
        self,
        kind: TokenType,
        *,
        user_id: UUID,
        org_id: UUID,
        family_id: UUID,
        roles: frozenset[str] = frozenset(),
        token_id: UUID | None = None,
        version: int = 0,
    ) -> IssuedToken:
        now = int(time.time())
        jti = str(token_id or uuid.uuid4())
        exp = now + (self.access_ttl if kind == "access" else self.refresh_ttl)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": str(user_id),
            "org": str(org_id),
            "fam": str(family_id),
            "jti": jti,
            "typ": kind,
            "ver": version,
            "iat": now,
            "exp": exp,
        }
        if kind == "access":
            claims["roles"] = sorted(roles)
        return IssuedToken(jwt.encode(claims, self._secret, algorithm="HS256"), jti, exp)

    def decode(self, token: str, kind: TokenType) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "org", "jti", "fam", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticated("The token has expired") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthenticated("The token is not valid") from exc
        if claims.get("typ") != kind:
            raise NotAuthenticated(f"Expected an {kind} token")
        return claims

    def principal(self, token: str) -> Principal:
        claims = self.decode(token, "access")
        try:
            return Principal(
                user_id=UUID(claims["sub"]),
                org_id=UUID(claims["org"]),
                roles=frozenset(claims.get("roles", [])),
                token_id=claims["jti"],
                family_id=claims["fam"],
                expires_at=int(claims["exp"]),
                token_version=token_version(claims),
            )
        except (ValueError, TypeError) as exc:
            raise NotAuthenticated("The token is not valid") from exc


def token_version(claims: dict[str, Any]) -> int:
    """``ver`` of decoded claims; tokens issued before versions existed count as version 0."""
    version = claims.get("ver", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise NotAuthenticated("The token is not valid")
    return version
