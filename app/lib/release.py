"""The release version, defined once: ``version`` in pyproject.toml, read back from the installed package's metadata.

``/health`` and ``/v1/config`` report it (the web app's footer shows it), CHANGELOG.md names it, ``make release``
stamps the wheel, sdist and SBOMs with it. A checkout run without installing the project (no metadata) reports
``0+unknown`` rather than a guess."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _installed_version() -> str:
    try:
        return version("lyceum")
    except PackageNotFoundError:
        return "0+unknown"


VERSION = _installed_version()
