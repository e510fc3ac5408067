"""The tutor's process-wide parts, built once with the Components."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.config import Settings
from app.domain.tutor.budgets import TokenBudget
from app.domain.tutor.chat_cache import ChatCache
from app.domain.tutor.guardrails import classifier
from app.domain.tutor.guardrails.model_check import ModelCheck
from app.domain.tutor.guardrails.policy import PolicyStore
from app.domain.tutor.prompts import PromptRegistry
from app.domain.tutor.providers.base import ModelProvider
from app.domain.tutor.providers.factory import create_provider
from app.lib.objectstore import LocalObjectStore, ObjectStore


@dataclass
class TutorComponents:
    provider: ModelProvider
    policies: PolicyStore
    prompts: PromptRegistry
    budget: TokenBudget
    objects: ObjectStore
    chats: ChatCache
    guard: ModelCheck | None = None  # the model-based input check; only with a model key

    @classmethod
    def build(cls, settings: Settings, limiter_redis: Redis) -> TutorComponents:
        # The classifier's embedding and weights load once per process (about 0.2 s, several seconds on a
        # loaded machine): in the background, so neither start-up nor a learner's first turn pays for it.
        classifier.warm_up_in_background()
        return cls(
            provider=create_provider(settings),
            policies=PolicyStore(settings.content_dir / "policies"),
            prompts=PromptRegistry(settings.content_dir / "prompts"),
            budget=TokenBudget(limiter_redis, settings.redis_key_prefix),
            objects=LocalObjectStore(settings.objects_path),
            chats=ChatCache(limiter_redis, settings.redis_key_prefix, max_age=settings.tutor_context_cache_seconds),
            guard=ModelCheck(settings) if settings.anthropic_api_key else None,
        )

    async def aclose(self) -> None:
        await self.provider.aclose()
        if self.guard is not None:
            await self.guard.aclose()
