"""The web app's ``Content-Security-Policy: frame-ancestors``: Lyceum may be framed by itself and by the
registered LMS platforms (the origins of their login URLs and issuers, all orgs), never by ``*``.

The list comes from the definer function ``lyceum_lti_frame_origins()`` (it runs with no tenant: any org's
platform may embed the app shell, which holds no data until someone signs in) and is cached in-process for
a short while, so a page load costs no query and a new registration is framed within ``ttl`` seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db.engine import Database
from app.lib.lti.urls import origin_of

CACHE_SECONDS = 30.0
log = structlog.get_logger("lyceum.lti.frames")


def frame_ancestors_policy(urls: list[str]) -> str:
    """``frame-ancestors 'self' <origins>``: each URL reduced to its origin (anything that is not a clean
    http(s) origin is left out, so no value can widen or break the directive)."""
    origins = sorted({origin for origin in (origin_of(url) for url in urls) if origin})
    return " ".join(["frame-ancestors", "'self'", *origins])


class FrameAncestors:
    """The cached policy. On a database error the last known policy stays (or ``'self'`` alone at first)."""

    def __init__(self, ttl: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._policy = frame_ancestors_policy([])
        self._expires = float("-inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._expires = float("-inf")

    async def policy(self, db: Database) -> str:
        if self.clock() < self._expires:
            return self._policy
        async with self._lock:  # one refresh at a time; the others get its result
            if self.clock() < self._expires:
                return self._policy
            try:
                async with db.transaction(None) as session:
                    urls = [
                        str(row[0]) for row in await session.execute(text("select url from lyceum_lti_frame_origins()"))
                    ]
                self._policy = frame_ancestors_policy(urls)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("lti.frame_origins.unavailable", error=repr(exc))
            self._expires = self.clock() + self.ttl
        return self._policy
