"""API versions: every route lives under /v1 (a /v2 router can sit beside it). Routes being retired carry
``Deprecation`` (RFC 9745) and ``Sunset`` (RFC 8594) headers plus a ``Link`` to their successor."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

DEPRECATED = "deprecated"  # route opt: a Deprecation value


def deprecated(since: datetime, sunset: datetime, successor: str) -> dict[str, Any]:
    """Route opts marking a handler deprecated, e.g. ``opt=deprecated(...)``."""
    return {DEPRECATED: {"since": since, "sunset": sunset, "successor": successor}}


async def add_deprecation_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: adds the headers for handlers whose opt carries ``deprecated``."""
    if message["type"] != "http.response.start":
        return
    handler = scope.get("route_handler")
    info = handler.opt.get(DEPRECATED) if handler is not None else None
    if not info:
        return
    headers = MutableScopeHeaders.from_message(message)
    headers["Deprecation"] = f"@{int(info['since'].replace(tzinfo=info['since'].tzinfo or UTC).timestamp())}"
    headers["Sunset"] = format_datetime(info["sunset"].astimezone(UTC), usegmt=True)
    headers["Link"] = f'<{info["successor"]}>; rel="successor-version"'


__all__ = ["DEPRECATED", "add_deprecation_headers", "datetime", "deprecated"]
