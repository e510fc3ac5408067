"""OAuth2 access tokens for the LTI Advantage services (AGS, NRPS): the client-credentials grant with a JWT
client assertion signed by the tool key (1EdTech Security Framework 4.1), cached in Redis per
(registration, scopes) until 30 s before the platform says it expires.

One token request per registration and scope set per token lifetime, whatever the number of scores or
roster pages: platforms rate-limit their token endpoints (Canvas, Brightspace), and a job retrying under a
429 must not add a token request to each attempt."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from joserfc import jwt
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.config import Settings
from app.db.engine import Database
from app.db.models import LtiPlatform
from app.domain.lti.toolkeys import active_key
from app.lib.lti.http import PlatformHttp, PlatformHttpError

log = structlog.get_logger("lyceum.lti")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300
EXPIRY_MARGIN_SECONDS = 30  # a token this close to expiry is not handed out: the call could outlive it
DEFAULT_EXPIRES_IN = 3600  # what RFC 6749 leaves open when a platform omits expires_in


@dataclass(frozen=True)
class TokenTarget:
    """What the token request needs from a registration (read in the caller's transaction)."""

    platform_id: UUID
    client_id: str
    auth_token_url: str

    @classmethod
    def of(cls, platform: LtiPlatform) -> TokenTarget:
        return cls(platform_id=platform.id, client_id=platform.client_id, auth_token_url=platform.auth_token_url)


def scope_key(scopes: Iterable[str]) -> tuple[str, str]:
    """The space-separated scope string (sorted, deduplicated) and a short hash of it for the cache key."""
    joined = " ".join(sorted(set(scopes)))
    return joined, hashlib.sha256(joined.encode()).hexdigest()[:16]


class ServiceTokens:
    """Access tokens for one process: ``token(target, scopes)`` returns a cached one or asks the platform."""

    def __init__(self, db: Database, redis: Redis, http: PlatformHttp, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.http = http
        self.settings = settings

    def _cache_key(self, platform_id: UUID, scope_hash: str) -> str:
        return f"{self.settings.redis_key_prefix}lti:token:{platform_id}:{scope_hash}"

    async def token(self, target: TokenTarget, scopes: Iterable[str]) -> str:
        scope, scope_hash = scope_key(scopes)
        key = self._cache_key(target.platform_id, scope_hash)
        try:
            cached = await self.redis.get(key)
        except (RedisError, OSError) as exc:  # no cache: still able to call the platform
            log.warning("lti_token_cache_unavailable", error=repr(exc))
            cached = None
        if cached:
            return cached.decode() if isinstance(cached, bytes) else str(cached)
        access_token, expires_in = await self._request(target, scope)
        ttl = expires_in - EXPIRY_MARGIN_SECONDS
        if ttl > 0:
            try:
                await self.redis.set(key, access_token, ex=ttl)
            except (RedisError, OSError) as exc:
                log.warning("lti_token_cache_unavailable", error=repr(exc))
        return access_token

    async def forget(self, target: TokenTarget, scopes: Iterable[str]) -> None:
        """Drop a cached token the platform refused (401): revoked early, or the platform restarted."""
        _, scope_hash = scope_key(scopes)
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self._cache_key(target.platform_id, scope_hash))

    async def assertion(self, target: TokenTarget) -> str:
        """The client assertion: iss = sub = client_id, aud = the token endpoint, short-lived, unique jti."""
        async with self.db.transaction(None) as session:  # the tool key is the deployment's: no tenant
            key = await active_key(session, self.settings)
        now = int(time.time())
        claims = {
            "iss": target.client_id,
            "sub": target.client_id,
            "aud": target.auth_token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
            "jti": secrets.token_urlsafe(24),
        }
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key.jwk())

    async def _request(self, target: TokenTarget, scope: str) -> tuple[str, int]:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": await self.assertion(target),
            "scope": scope,
        }
        response = await self.http.request(
            "POST", target.auth_token_url, data=form, headers={"Accept": "application/json"}
        )
        try:
            body: Any = response.json()
        except ValueError as exc:
            raise PlatformHttpError("the token endpoint did not answer JSON", status=response.status_code) from exc
        access_token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access_token, str) or not access_token:
            # A 200 without a token is the platform's fault and will not fix itself on a retry soon;
            # reported as a non-retryable 4xx-like failure (502 would loop through every retry).
            raise PlatformHttpError("the token endpoint answered without an access_token", status=400)
        expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN)
        if not isinstance(expires_in, int | float) or expires_in <= 0:
            expires_in = DEFAULT_EXPIRES_IN
        log.info("lti_token_issued", platform_id=str(target.platform_id), scope=scope, expires_in=int(expires_in))
        return access_token, int(expires_in)
