"""Process-wide cache of what a tutor connection and its turns load from PostgreSQL: a session's row
(owner, course, item, default mode), the material of a course item with the org's slug and budget limits
(``TutorService.for_chat``), and the org's prompt overrides and running experiments (``TurnRunner._lookup``).

Loading a session for chatting took eight ORM queries in one RLS transaction on every connection, and the
prompt overrides one more query on every turn: most of the set-up CPU of a turn (docs/performance.md).
Both change rarely and only through known writes, so each cached entry remembers the *version* it was
loaded under and is used only while that version is still current:

- ``{prefix}tutor:version:org:<org_id>``: bumped (``INCR``) when an admin changes the org's budgets or
  prompt versions (``AdminService``) or starts, changes or stops a running experiment
  (``ExperimentService``), which invalidates every session, the prompt overrides and experiments of the org;
- ``{prefix}tutor:version:session:<session_id>``: bumped when a resume changes the session's default mode.

Reading both is one ``MGET`` on the fail-fast Redis client, in every process, so an admin's change applies
to the next connection (and the next turn's prompt) on every API process, as it did when both were read
from the database. The version is read *before* loading, so a change that lands during a load leaves an
entry under the older version, which the next read does not accept. When Redis cannot answer, nothing is
cached or served from the cache: the caller loads from the database, as before.

Course material itself changes only when content is loaded (``lyceum seed`` / the content loader, not an
API route): entries also expire after ``max_age`` seconds (``LYCEUM_TUTOR_CONTEXT_CACHE_SECONDS``), which
bounds how long a running process keeps the material of a reloaded course.

Entries are keyed by org and session, and a hit is checked against the caller's user exactly as the
database load checks ownership, so the cache never widens what a learner can open (RLS applied to the load
that filled it, under the same org)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import structlog
from redis.asyncio import Redis

log = structlog.get_logger("lyceum.tutor.cache")
T = TypeVar("T")
DEFAULT_MAX_ENTRIES = 4096
VERSION_TTL_SECONDS = 30 * 24 * 3600
Versions = tuple[bytes | str | None, bytes | str | None]


@dataclass(frozen=True, slots=True)
class _Entry:
    versions: Versions
    loaded_at: float
    value: Any


class ChatCache:
    """Versioned, bounded (least recently used out), per-process cache of chat sessions and prompt overrides."""

    def __init__(
        self, redis: Redis, prefix: str, max_age: float = 300.0, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.max_age = max_age
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, UUID, Hashable], _Entry] = OrderedDict()

    def _org_key(self, org_id: UUID) -> str:
        return f"{self._prefix}tutor:version:org:{org_id}"

    def _session_key(self, session_id: UUID) -> str:
        return f"{self._prefix}tutor:version:session:{session_id}"

    async def versions(self, org_id: UUID, session_id: UUID | None = None) -> Versions | None:
        """The current versions (org, session), or None when Redis cannot say (then: no caching)."""
        if self.max_age <= 0:
            return None
        keys = [self._org_key(org_id)] + ([self._session_key(session_id)] if session_id is not None else [])
        try:
            values = await self._redis.mget(keys)
        except Exception as exc:  # fail-fast client: a slow or absent Redis only costs the cache
            log.warning("tutor_cache_unavailable", error=str(exc))
            return None
        return values[0], values[1] if session_id is not None else None

    def get(self, kind: str, org_id: UUID, key: Hashable, versions: Versions | None) -> Any | None:
        if versions is None:
            return None
        entry = self._entries.get((kind, org_id, key))
        if entry is None:
            return None
        if entry.versions != versions or time.monotonic() - entry.loaded_at > self.max_age:
            del self._entries[(kind, org_id, key)]
            return None
        self._entries.move_to_end((kind, org_id, key))
        return entry.value

    def put(self, kind: str, org_id: UUID, key: Hashable, versions: Versions | None, value: Any) -> None:
        if versions is None:
            return
        self._entries[(kind, org_id, key)] = _Entry(versions, time.monotonic(), value)
        self._entries.move_to_end((kind, org_id, key))
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def invalidate_org(self, org_id: UUID) -> None:
        """An admin changed the org's budgets, prompts or experiments: every process reloads them on next use."""
        await self._bump(self._org_key(org_id))

    async def invalidate_session(self, session_id: UUID) -> None:
        """The session's default mode changed."""
        await self._bump(self._session_key(session_id))

    async def _bump(self, key: str) -> None:
        try:
            # A version key that expires reads as None afterwards, which no entry holds: a reload, never stale.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, VERSION_TTL_SECONDS)
                await pipe.execute()
        except Exception as exc:
            # Entries still expire after max_age; say so loudly, since until then processes keep the old data.
            log.error("tutor_cache_invalidation_failed", key=key, error=str(exc))

    def clear(self) -> None:
        self._entries.clear()


async def cached(
    cache: ChatCache, kind: str, org_id: UUID, key: str, versions: Versions | None, load: Callable[[], Awaitable[T]]
) -> T:
    """``load()`` unless the cache holds ``kind``/``key`` under ``versions``; remembered for next time."""
    hit = cache.get(kind, org_id, key, versions)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    value = await load()
    cache.put(kind, org_id, key, versions, value)
    return value
