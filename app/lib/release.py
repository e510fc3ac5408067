"""The release version, defined once: ``version`` in pyproject.toml, read back from the installed package's metadata.

``/health`` and ``/v1/config`` report it (the web app's footer shows it), CHANGELOG.md names it, ``make release``
stamps the wheel, sdist and SBOMs with it. A checkout run without installing the project (no metadata) reports
``0+unknown`` rather than a guess."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]
_BUNDLED = Path(__file__).resolve().parents[1] / "_bundled"  # filled by the wheel build (pyproject.toml)


def _installed_version() -> str:
    try:
        return version("lyceum")
    except PackageNotFoundError:
        return "0+unknown"


VERSION = _installed_version()


def shipped_path(name: str) -> Path:
    """A top-level directory of the source tree (``frontend/dist``, ``alembic``, ``content``): in a checkout,
    the directory itself; in an installed wheel, the copy the build put under ``app/_bundled``."""
    in_tree = _SOURCE_ROOT / name
    if in_tree.exists():
        return in_tree
    bundled = _BUNDLED / name
    return bundled if bundled.exists() else in_tree
