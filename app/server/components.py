"""The composition root: builds and closes the process-wide components (database engine, Redis clients,
token codec, revocation denylist, limiter, event bus, job queue, tutor, grading and search components).

The API builds them in its lifespan (``ComponentsPlugin``) and the worker at start-up (jobs/worker.py);
handlers reach them only through dependency injection (``provide_components``, used by each domain's
``deps.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol
from redis.exceptions import RedisError

from app.config import Settings
from app.db.engine import Database
from app.domain.auth.revocation import build_denylist
from app.domain.components import Components
from app.domain.grading.components import GradingComponents
from app.domain.review.queue import ReviewQueuePolicy
from app.domain.search.components import SearchComponents
from app.domain.tutor.components import TutorComponents
from app.lib.events import EventBus
from app.lib.jobs import create_queue
from app.lib.lti.http import PlatformHttp
from app.lib.ratelimit import TokenBucketLimiter
from app.lib.redis import create_redis
from app.lib.resources import STATE_KEY
from app.lib.security.tokens import TokenCodec


def build_components(settings: Settings) -> Components:
    redis = create_redis(settings.redis_url)
    limiter_redis = create_redis(settings.redis_url, role="limiter")
    db = Database.from_settings(settings)
    return Components(
        settings=settings,
        db=db,
        redis=redis,
        limiter_redis=limiter_redis,
        tokens=TokenCodec(
            settings.secret_key.value, settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds
        ),
        # Revocation state: PostgreSQL decides, Redis caches; on the request path, so the fail-fast client.
        denylist=build_denylist(settings, limiter_redis, db),
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
        grading=GradingComponents.build(settings, ReviewQueuePolicy(settings.review_sla_hours)),
        search=SearchComponents.build(settings),
        lti_http=PlatformHttp(allow_private=settings.lti_allow_private, timeout=settings.lti_http_timeout_seconds),
    )


async def close_components(components: Components) -> None:
    await components.events.aclose()  # first: it finishes pending publishes and releases its pub/sub connection
    await components.tutor.aclose()
    with contextlib.suppress(RedisError, OSError):  # Redis already gone: nothing to release
        await components.queue.disconnect()
    await components.grading.aclose()
    await components.search.aclose()
    await components.lti_http.aclose()
    await components.redis.aclose()
    await components.limiter_redis.aclose()
    await components.db.dispose()


def components_of(app: Litestar) -> Components:
    """The running app's components (tests, benchmarks and the CLI)."""
    components: Components = getattr(app.state, STATE_KEY)
    return components


def provide_components(state: State) -> Components:
    components: Components = getattr(state, STATE_KEY)
    return components


def provide_settings(state: State) -> Settings:
    return provide_components(state).settings


class ComponentsPlugin(InitPluginProtocol):
    """Builds the components when the app starts, closes them when it stops, and provides them to the
    domain providers as the ``components`` dependency."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        setattr(app.state, STATE_KEY, build_components(self.settings))
        try:
            yield
        finally:
            await close_components(components_of(app))

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.lifespan.insert(0, self.lifespan)
        app_config.dependencies["components"] = Provide(provide_components, sync_to_thread=False)
        app_config.dependencies["settings"] = Provide(provide_settings, sync_to_thread=False)
        return app_config


__all__ = ["Components", "ComponentsPlugin", "build_components", "close_components", "components_of"]
