"""Serve the built web app (frontend/dist): real files as they are, any other page path as index.html so
client-side routes (/courses/…, /learning) survive a reload or a shared link. API and docs paths that do
not exist stay 404 problem+json: a typo in /v1/… must never come back as an HTML page."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from litestar import Router, get
from litestar.response import File

from app.lib.auth import PUBLIC
from app.lib.errors import NotFound

# Paths that belong to the API, docs and operations, never to the web app.
RESERVED_PREFIXES = ("v1/", "v1", "schema", "static/", "health", "ready", "metrics")
# Vite fingerprints everything under assets/: safe to cache for a year. index.html must be revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def _file(path: Path, cache: str) -> File:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return File(
        path,
        filename=path.name,
        media_type=media_type,
        content_disposition_type="inline",
        headers={"Cache-Control": cache},
    )


def webapp_router(dist: Path) -> Router:
    root = dist.resolve()
    index = root / "index.html"

    @get(["/", "/{path:path}"], opt={PUBLIC: True}, include_in_schema=False, name="webapp", sync_to_thread=False)
    def serve(path: str = "") -> File:
        relative = path.lstrip("/")
        if relative.startswith(RESERVED_PREFIXES):
            raise NotFound("No such resource")
        candidate = (root / relative).resolve()
        if relative and candidate.is_file() and candidate.is_relative_to(root):
            cache = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
            return _file(candidate, cache)
        if "." in relative.rsplit("/", 1)[-1]:
            raise NotFound("No such file")  # a missing asset is a 404, not the app shell
        return _file(index, REVALIDATE)

    return Router(path="/", route_handlers=[serve], include_in_schema=False)
