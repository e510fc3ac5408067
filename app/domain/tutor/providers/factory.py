"""Chooses the tutor's model provider from the settings."""

from __future__ import annotations

from app.config import Settings
from app.domain.tutor.providers.base import ModelProvider


def create_provider(settings: Settings) -> ModelProvider:
    """Claude when ANTHROPIC_API_KEY is set; otherwise the offline tutor, so Lyceum works with no key at all."""
    if settings.anthropic_api_key:
        # Imported here so an offline deployment never loads the SDK (and its HTTP stack) at all.
        from app.domain.tutor.providers.anthropic import AnthropicProvider

        return AnthropicProvider(settings)
    from app.domain.tutor.providers.offline import OfflineTutorProvider

    return OfflineTutorProvider(delay_seconds=settings.tutor_offline_chunk_delay_ms / 1000)
