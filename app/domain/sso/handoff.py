"""The hand-off from a completed SSO sign-in (either protocol) to the web app, as LTI launches do it.

The callback (OIDC) or ACS (SAML) stores an ``SsoGrant`` under a one-time code in Redis and sends the
browser to ``/sso/complete?code=…``; the web app trades the code once (``POST /v1/sso/session``) for a
token pair issued by ``AuthService.sign_in_federated``: the same JWT + rotating refresh token + revocation
a password login gets. No token ever travels in a URL.
"""

from __future__ import annotations

import secrets
from dataclasses import KW_ONLY, dataclass
from urllib.parse import urlencode

import msgspec
from redis.asyncio import Redis
from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import Organization, User
from app.domain.auth.schemas import TokenPair
from app.domain.auth.services import AuthService
from app.domain.sso.schemas import SsoGrant
from app.lib.errors import LyceumError
from app.lib.security.tokens import TokenCodec

COMPLETE_PATH = "/sso/complete"
MAX_RETURN_PATH = 500


class SsoCodeInvalid(LyceumError):
    status, slug, title = 400, "sso-code", "This sign-in code is unknown, expired or already used"


def safe_return_path(value: str | None) -> str:
    """A path on this site to open after signing in, or "/": never another origin (``//host``, ``/\\host``,
    a scheme), never control characters."""
    if not value or len(value) > MAX_RETURN_PATH or not value.startswith("/"):
        return "/"
    if value.startswith(("//", "/\\")) or any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in value):
        return "/"
    return value


def code_key(settings: Settings, code: str) -> str:
    return f"{settings.redis_key_prefix}sso:code:{code}"


async def issue_code(redis: Redis, settings: Settings, grant: SsoGrant) -> str:
    """Store ``grant`` under a fresh one-time code; the web app URL to send the browser to."""
    code = secrets.token_urlsafe(32)
    await redis.set(code_key(settings, code), msgspec.json.encode(grant), ex=settings.sso_code_ttl_seconds)
    return f"{COMPLETE_PATH}?{urlencode({'code': code})}"


@dataclass(frozen=True)
class Exchanged:
    grant: SsoGrant
    pair: TokenPair
    org_slug: str
    name: str


@dataclass(eq=False)
class HandoffService:
    db: Database
    redis: Redis
    _: KW_ONLY
    settings: Settings
    auth: AuthService
    tokens: TokenCodec

    async def exchange(self, code: str) -> Exchanged:
        raw = await self.redis.getdel(code_key(self.settings, code))  # one exchange only
        if raw is None:
            raise SsoCodeInvalid("Sign in again to get a new one.")
        grant = msgspec.json.decode(raw, type=SsoGrant)
        pair = await self.auth.sign_in_federated(grant.org_id, grant.user_id, action=f"sso.{grant.protocol}")
        async with self.db.transaction(grant.org_id, grant.user_id) as session:
            org = await session.get(Organization, grant.org_id)
            name = await session.scalar(select(User.name).where(User.id == grant.user_id))
        assert org is not None
        return Exchanged(grant=grant, pair=pair, org_slug=org.slug, name=name or "")
