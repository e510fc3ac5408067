"""The process-wide resources the domain services use, as one typed bundle.

Only the type lives here: the composition root that builds and closes it is `app/server/components.py`
(the API's lifespan and the worker's start-up both call it), so nothing below the server imports it.
Handlers do not take this bundle: each domain's `deps.py` builds the services they receive from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from saq import Queue

from app.config import Settings
from app.db.engine import Database
from app.domain.grading.components import GradingComponents
from app.domain.search.components import SearchComponents
from app.domain.tutor.components import TutorComponents
from app.lib.events import EventBus
from app.lib.lti.http import PlatformHttp
from app.lib.ratelimit import TokenBucketLimiter
from app.lib.security.denylist import TokenDenylist
from app.lib.security.tokens import TokenCodec


@dataclass
class Components:
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
    search: SearchComponents  # the content index's vector side (Chroma)
    lti_http: PlatformHttp  # every call to an LTI platform (SSRF-guarded; app/lib/lti/http.py)
