"""Conditional GETs (RFC 9110 section 13): whether a request's ``If-None-Match`` names a response's ETag."""

from __future__ import annotations


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` lists ``etag`` or ``*`` (the weak comparison a GET uses: ``W/`` ignored)."""
    if not if_none_match or not etag:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags
