"""The version is defined once and the wheel's bundled copies are found when the source tree is absent."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.lib import release

ROOT = Path(__file__).resolve().parents[3]


def test_the_version_is_pyprojects() -> None:
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == release.VERSION


def test_a_checkout_uses_its_own_directories() -> None:
    assert release.shipped_path("alembic") == ROOT / "alembic"
    assert release.shipped_path("content") == ROOT / "content"


def test_an_installed_wheel_uses_the_bundled_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-packages"
    (site / "app" / "_bundled" / "frontend" / "dist").mkdir(parents=True)
    monkeypatch.setattr(release, "_SOURCE_ROOT", site)  # an installed package has no alembic/ beside app/
    monkeypatch.setattr(release, "_BUNDLED", site / "app" / "_bundled")
    assert release.shipped_path("frontend/dist") == site / "app" / "_bundled" / "frontend" / "dist"
    # Neither present (a wheel built without a web app): the source-tree path, which the caller reports missing.
    assert release.shipped_path("alembic") == site / "alembic"
