"""Is this access token still good? PostgreSQL decides; Redis only caches the answer.

The *revocation state* of a user in an org (``AuthState``) is read from PostgreSQL by a loader the
composition root supplies (``app.domain.auth.revocation``): the user's token version (raised by a password
change or reset and by deactivation), whether they are active and still a member, their roles, and the
logins (token families) revoked within the last access-token lifetime (logout, refresh-token reuse,
deactivation, a password change ending the other sessions). It is cached in Redis per org and user and
checked on every authenticated request and WebSocket.

Why a cache of PostgreSQL and not a list kept only in Redis: a Redis that restarts empty, is flushed or
evicts keys must not bring a logged-out token back to life. Here a missing entry is simply read again
from PostgreSQL, and an unreachable Redis means asking PostgreSQL directly.

Invalidation without races: every change to a user's revocation state, once committed, writes a new
random *generation* ``auth:gen:<user>`` (one key per user, so the states of every org they belong to go
stale together). A cached state records the generation it was read under and counts only while that is
still current, so a state read just before a revocation committed and written to the cache just after
is never used. When Redis cannot take the new generation, the cached state expires within
``LYCEUM_AUTH_CACHE_SECONDS`` (the documented window; ``lyceum_token_denylist_errors_total{mode="stale"}``).

Keys (under the prefix): ``auth:state:<org>:<user>`` (msgpack, TTL ``LYCEUM_AUTH_CACHE_SECONDS``) and
``auth:gen:<user>`` (TTL one day, well beyond any state's).
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from uuid import UUID

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.lib.coalesce import coalesced
from app.lib.errors import NotAuthenticated
from app.lib.observability import DENYLIST_ERRORS
from app.lib.security.principal import Principal

GENERATION_TTL_SECONDS = 24 * 3600
log = structlog.get_logger("lyceum.auth")


class AuthState(msgspec.Struct, frozen=True):
    version: int
    active: bool  # the user is active and holds at least one role in the org
    roles: frozenset[str]
    revoked_families: frozenset[str]


class _Cached(msgspec.Struct, frozen=True):
    generation: str
    state: AuthState


AuthStateLoader = Callable[[UUID, UUID], Awaitable[AuthState]]
_decoder = msgspec.msgpack.Decoder(_Cached)
_encoder = msgspec.msgpack.Encoder()


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


class TokenDenylist:
    def __init__(self, redis: Redis, prefix: str, loader: AuthStateLoader, cache_seconds: int) -> None:
        self._redis = redis
        # The two keys of a check are read with every other check of the same event-loop tick (one MGET).
        self._reads = coalesced(redis)
        self._prefix = prefix
        self._loader = loader
        self._cache_seconds = cache_seconds

    def _state_key(self, org_id: UUID, user_id: UUID) -> str:
        return f"{self._prefix}auth:state:{org_id}:{user_id}"

    def _generation_key(self, user_id: UUID) -> str:
        return f"{self._prefix}auth:gen:{user_id}"

    async def state(self, org_id: UUID, user_id: UUID) -> AuthState:
        state_key, generation_key = self._state_key(org_id, user_id), self._generation_key(user_id)
        try:
            cached, generation = await self._reads.mget(state_key, generation_key)
        except (RedisError, OSError):
            DENYLIST_ERRORS.labels("database").inc()
            return await self._loader(org_id, user_id)
        current = _text(generation)
        if cached:
            try:
                entry = _decoder.decode(cached.encode("latin-1") if isinstance(cached, str) else cached)
            except (msgspec.DecodeError, UnicodeEncodeError):
                entry = None
            if entry is not None and entry.generation == current:
                return entry.state
        state = await self._loader(org_id, user_id)
        with contextlib.suppress(RedisError, OSError):  # an uncached state is only a slower check next time
            await self._redis.set(state_key, _encoder.encode(_Cached(current, state)), ex=self._cache_seconds)
        return state

    async def check(self, principal: Principal) -> Principal:
        """The principal if its token is still good (roles narrowed to those the user still holds: a
        demotion counts at once, a promotion at the next refresh); NotAuthenticated otherwise."""
        state = await self.state(principal.org_id, principal.user_id)
        if not state.active:
            raise NotAuthenticated("This account is no longer active in this organization; sign in again")
        if principal.token_version < state.version or principal.family_id in state.revoked_families:
            raise NotAuthenticated("The token has been revoked; sign in again")
        roles = principal.roles & state.roles
        return principal if roles == principal.roles else dataclasses.replace(principal, roles=roles)

    async def invalidate(self, user_id: UUID) -> None:
        """Call after committing any change to the user's revocation state (in every org at once)."""
        try:
            await self._redis.set(self._generation_key(user_id), uuid.uuid4().hex, ex=GENERATION_TTL_SECONDS)
        except (RedisError, OSError) as exc:
            DENYLIST_ERRORS.labels("stale").inc()
            log.warning("revocation_cache_not_cleared", user_id=str(user_id), error=type(exc).__name__)
