"""Serve the built web app (frontend/dist): real files as they are, any other page path as index.html so
client-side routes (/courses/…, /learning) survive a reload or a shared link. API and docs paths that do
not exist stay 404 problem+json: a typo in /v1/… must never come back as an HTML page."""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.response import File

from app.lib.auth import PUBLIC
from app.lib.errors import NotFound

# Paths that belong to the API, docs and operations, never to the web app.
RESERVED_PREFIXES = ("v1/", "v1", "schema", "static/", "health", "ready", "metrics")
# Vite fingerprints everything under assets/: safe to cache for a year. index.html must be revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The shell may only be framed by itself unless the app says who else may (the registered LMS platforms:
# app/domain/lti/frame_origins.py). No X-Frame-Options: CSP frame-ancestors supersedes it, and it cannot
# name several origins.
SELF_ONLY = "frame-ancestors 'self'"
FramePolicy = Callable[[Request[Any, Any, Any]], Awaitable[str]]


def _file(path: Path, cache: str, csp: str | None = None) -> File:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": cache}
    if csp:
        headers["Content-Security-Policy"] = csp
    return File(
        path,
        filename=path.name,
        media_type=media_type,
        content_disposition_type="inline",
        headers=headers,
    )


def webapp_router(dist: Path, frame_policy: FramePolicy | None = None) -> Router:
    root = dist.resolve()
    index = root / "index.html"

    async def _csp(request: Request[Any, Any, Any]) -> str:
        return await frame_policy(request) if frame_policy else SELF_ONLY

    @get(["/", "/{path:path}"], opt={PUBLIC: True}, include_in_schema=False, name="webapp")
    async def serve(request: Request[Any, Any, Any], path: str = "") -> File:
        relative = path.lstrip("/")
        if relative.startswith(RESERVED_PREFIXES):
            raise NotFound("No such resource")
        candidate = (root / relative).resolve()
        if relative and candidate.is_file() and candidate.is_relative_to(root):
            cache = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
            return _file(candidate, cache, await _csp(request) if candidate.suffix == ".html" else None)
        if "." in relative.rsplit("/", 1)[-1]:
            raise NotFound("No such file")  # a missing asset is a 404, not the app shell
        return _file(index, REVALIDATE, await _csp(request))

    return Router(path="/", route_handlers=[serve], include_in_schema=False)
