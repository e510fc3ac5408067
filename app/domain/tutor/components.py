"""The tutor's process-wide parts, built once with the Runtime."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.config import Settings
from app.domain.tutor.budgets import TokenBudget
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

    @classmethod
    def build(cls, settings: Settings, limiter_redis: Redis) -> TutorComponents:
        return cls(
            provider=create_provider(settings),
            policies=PolicyStore(settings.content_dir / "policies"),
            prompts=PromptRegistry(settings.content_dir / "prompts"),
            budget=TokenBudget(limiter_redis, settings.redis_key_prefix),
            objects=LocalObjectStore(settings.objects_path),
        )

    async def aclose(self) -> None:
        await self.provider.aclose()
