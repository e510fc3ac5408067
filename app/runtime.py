"""Process-wide resources, built once at start-up and shared through dependency injection."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.config import Settings
from app.db.engine import Database
from app.domain.tutor.components import TutorComponents  # the composition root wires domains together
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

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        redis = create_redis(settings.redis_url)
        limiter_redis = create_redis(settings.redis_url, role="limiter")
        return cls(
            settings=settings,
            db=Database.from_settings(settings),
            redis=redis,
            limiter_redis=limiter_redis,
            tokens=TokenCodec(
                settings.secret_key.value, settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds
            ),
            denylist=TokenDenylist(redis, settings.redis_key_prefix, settings.refresh_token_ttl_seconds),
            limiter=TokenBucketLimiter(limiter_redis, settings.redis_key_prefix),
            tutor=TutorComponents.build(settings, limiter_redis),
        )

    async def close(self) -> None:
        await self.tutor.aclose()
        await self.redis.aclose()
        await self.limiter_redis.aclose()
        await self.db.dispose()
