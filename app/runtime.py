"""Process-wide resources, built once at start-up and shared through dependency injection."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq import Queue

from app.config import Settings
from app.db.engine import Database
from app.domain.auth.revocation import AuthStateReader
from app.domain.grading.components import GradingComponents
from app.domain.tutor.components import TutorComponents  # the composition root wires domains together
from app.lib.events import EventBus
from app.lib.jobs import create_queue
from app.lib.ratelimit import TokenBucketLimiter
from app.lib.redis import create_redis
from app.lib.security.denylist import TokenDenylist
from app.lib.security.tokens import TokenCodec


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis
    limiter_redis: Redis
    tokens: TokenCodec
    denylist: TokenDenylist
    limiter: TokenBucketLimiter
    tutor: TutorComponents
    events: EventBus
    queue: Queue  # SAQ: the API enqueues grading jobs, the worker runs them
    grading: GradingComponents

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        redis = create_redis(settings.redis_url)
        limiter_redis = create_redis(settings.redis_url, role="limiter")
        db = Database.from_settings(settings)
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            limiter_redis=limiter_redis,
            tokens=TokenCodec(
                settings.secret_key.value, settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds
            ),
            # Revocation state: PostgreSQL decides, Redis caches; on the request path, so the fail-fast client.
            denylist=TokenDenylist(
                limiter_redis,
                settings.redis_key_prefix,
                AuthStateReader(db, settings.access_token_ttl_seconds),
                settings.auth_cache_seconds,
            ),
            limiter=TokenBucketLimiter(limiter_redis, settings.redis_key_prefix),
            tutor=TutorComponents.build(settings, limiter_redis),
            # Publishing goes through the fail-fast client: a hung Redis must not stall the publisher.
            events=EventBus(
                redis,
                settings.redis_key_prefix,
                max_len=settings.feed_replay_size,
                queue_size=settings.feed_queue_size,
                publisher=limiter_redis,
            ),
            queue=create_queue(settings),
            grading=GradingComponents.build(settings),
        )

    async def close(self) -> None:
        await self.events.aclose()  # first: it finishes pending publishes and releases its pub/sub connection
        await self.tutor.aclose()
        with contextlib.suppress(RedisError, OSError):  # Redis already gone: nothing to release
            await self.queue.disconnect()
        await self.grading.aclose()
        await self.redis.aclose()
        await self.limiter_redis.aclose()
        await self.db.dispose()
