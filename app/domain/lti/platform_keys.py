"""Platform key sets (JWKS) for id_token validation: fetched through PlatformHttp, cached in Redis.

The cache (``lti:jwks:<platform_id>``, ``lti_jwks_cache_seconds``) is shared by every API process. An
unknown ``kid`` refetches at once (the platform rotated its keys), but at most once per
``REFRESH_INTERVAL_SECONDS`` per platform (``lti:jwks-refresh:<platform_id>``, SET NX): a stream of launches
naming random kids must not turn the tool into an amplifier against the platform.
"""

from __future__ import annotations

import json
from uuid import UUID

import structlog
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.config import Settings
from app.lib.lti.http import PlatformHttp, PlatformHttpError, UnsafeUrl
from app.lib.lti.idtoken import IdTokenError, KeySetProvider

REFRESH_INTERVAL_SECONDS = 10
log = structlog.get_logger("lyceum.lti")


def _parse(document: object) -> KeySet:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    # Keys this service cannot use (EC, oct, malformed) are skipped, not fatal: platforms publish mixed sets.
    usable = [k for k in document["keys"] if isinstance(k, dict) and k.get("kty") == "RSA" and k.get("kid")]
    return KeySet.import_key_set({"keys": usable})


class PlatformKeys:
    def __init__(self, redis: Redis, http: PlatformHttp, settings: Settings) -> None:
        self.redis = redis
        self.http = http
        self.settings = settings

    def _key(self, platform_id: UUID) -> str:
        return f"{self.settings.redis_key_prefix}lti:jwks:{platform_id}"

    async def _fetch(self, platform_id: UUID, url: str) -> KeySet:
        try:
            document = await self.http.get_json(url)
            keys = _parse(document)
        except (UnsafeUrl, PlatformHttpError, ValueError, JoseError) as exc:
            log.warning("lti_jwks_fetch_failed", platform_id=str(platform_id), error=str(exc))
            raise IdTokenError("jwks_unavailable", "the platform's key set could not be fetched") from exc
        try:
            await self.redis.set(
                self._key(platform_id), json.dumps(document), ex=max(1, self.settings.lti_jwks_cache_seconds)
            )
        except RedisError:
            log.warning("lti_jwks_cache_unavailable", platform_id=str(platform_id))
        return keys

    async def key_set(self, platform_id: UUID, url: str, *, refresh: bool = False) -> KeySet:
        """The platform's keys: cached, or fetched; ``refresh`` refetches unless one happened just now."""
        if refresh:
            try:
                allowed = await self.redis.set(
                    f"{self.settings.redis_key_prefix}lti:jwks-refresh:{platform_id}",
                    "1",
                    nx=True,
                    ex=REFRESH_INTERVAL_SECONDS,
                )
            except RedisError:
                allowed = True
            if allowed:
                return await self._fetch(platform_id, url)
        try:
            cached = await self.redis.get(self._key(platform_id))
        except RedisError:
            cached = None
        if cached is not None:
            try:
                return _parse(json.loads(cached))
            except (ValueError, JoseError):
                pass  # a damaged cache entry: fetch again
        return await self._fetch(platform_id, url)

    def provider(self, platform_id: UUID, url: str) -> KeySetProvider:
        """The callback ``validate_id_token`` asks for keys (``refresh=True`` after an unknown kid)."""

        async def provide(refresh: bool) -> KeySet:
            return await self.key_set(platform_id, url, refresh=refresh)

        return provide
