"""Redis denylist of revoked access tokens (by jti) and token families (by fam). Entries expire with the tokens."""

from __future__ import annotations

import time

from redis.asyncio import Redis


class TokenDenylist:
    def __init__(self, redis: Redis, prefix: str, family_ttl: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._family_ttl = family_ttl

    def _jti(self, token_id: str) -> str:
        return f"{self._prefix}deny:jti:{token_id}"

    def _fam(self, family_id: str) -> str:
        return f"{self._prefix}deny:fam:{family_id}"

    async def revoke_token(self, token_id: str, expires_at: int) -> None:
        ttl = max(1, expires_at - int(time.time()))
        await self._redis.set(self._jti(token_id), b"1", ex=ttl)

    async def revoke_family(self, family_id: str) -> None:
        await self._redis.set(self._fam(family_id), b"1", ex=self._family_ttl)

    async def is_revoked(self, token_id: str, family_id: str) -> bool:
        # One round trip for both checks.
        return int(await self._redis.exists(self._jti(token_id), self._fam(family_id))) > 0
