"""The offline tutor can stream at a visible pace (the demo), and does not by default (tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from app.config import load_settings
from app.domain.tutor.providers.factory import create_provider
from app.domain.tutor.providers.offline import OfflineTutorProvider


def _provider(tmp_path: Path, **env: str) -> OfflineTutorProvider:
    settings = load_settings({"LYCEUM_DATA_DIR": str(tmp_path), "LYCEUM_ENVIRONMENT": "test", **env})
    provider = create_provider(settings)
    assert isinstance(provider, OfflineTutorProvider)
    return provider


def test_offline_pacing_is_configurable(tmp_path: Path) -> None:
    assert _provider(tmp_path)._delay == 0
    assert _provider(tmp_path, LYCEUM_TUTOR_OFFLINE_CHUNK_DELAY_MS="25")._delay == 0.025
