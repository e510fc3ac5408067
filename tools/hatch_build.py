"""Hatch build hook: release builds (``make release``) carry the built web app, the migrations and the demo content.

The wheel gets them under ``app/_bundled`` (found there by ``app.lib.release.shipped_path`` once installed); the
sdist gets ``frontend/dist`` (the rest of the source tree is in it anyway), so a wheel built from the sdist has
the web app too. Editable installs (``uv sync``) get nothing added: on a fresh clone they run before any web build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class BundledFiles(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        web = root / "frontend" / "dist"
        if not (web / "index.html").is_file():
            raise RuntimeError(f"{web} has no built web app: run `make frontend` first (`make release` does)")
        if self.target_name == "sdist":
            build_data["force_include"][str(web)] = "frontend/dist"
            return
        build_data["force_include"].update(
            {
                str(web): "app/_bundled/frontend/dist",
                str(root / "alembic"): "app/_bundled/alembic",
                str(root / "content"): "app/_bundled/content",
            }
        )
