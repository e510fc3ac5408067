"""Signed download links of personal-data exports: ``/v1/exports/<token>``.

The link is the capability (no session is needed to download, so a learner can open it in another browser or
hand it to a download manager), so it must be unguessable and unforgeable: the token carries the export id,
its org and its expiry, and an HMAC-SHA256 over them with a key derived from LYCEUM_SECRET_KEY for this one
purpose (a token of another kind, or a CSRF digest, can never pass for it). The org in the token is what the
download's transaction is scoped to, so row-level security applies as on every other read.

Compact: base64url of 16 + 16 + 8 bytes (export id, org id, expiry as a Unix second), a dot, base64url of the
32-byte MAC; about 100 characters, URL-safe without escaping.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
from dataclasses import dataclass
from uuid import UUID

from app.lib.errors import LyceumError, NotFound

_PURPOSE = b"lyceum:data-export-link:v1"
_PAYLOAD = struct.Struct(">16s16sq")


class ExportGone(LyceumError):
    """The link (or the export behind it) has expired: ask for a new export."""

    status, slug, title = 410, "export-gone", "This export has expired"


@dataclass(frozen=True, slots=True)
class ExportLink:
    export_id: UUID
    org_id: UUID
    expires_at: int  # Unix seconds


def _key(secret: str) -> bytes:
    # A key of its own, derived from the app secret: rotating LYCEUM_SECRET_KEY voids every link too.
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_link(secret: str, export_id: UUID, org_id: UUID, expires_at: int) -> str:
    payload = _PAYLOAD.pack(export_id.bytes, org_id.bytes, expires_at)
    mac = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify_link(secret: str, token: str, *, now: float | None = None) -> ExportLink:
    """The link a token carries; NotFound (404) for anything not signed by us (garbage, tampering, another
    deployment's key), ExportGone (410) for a genuine link past its expiry. The MAC is checked before the
    expiry, so an outsider learns nothing from a forged token but 404."""
    body, dot, mac_text = token.partition(".")
    if not dot or len(token) > 200:
        raise NotFound("No such export")
    try:
        payload, mac = _unb64(body), _unb64(mac_text)
    except (binascii.Error, ValueError):
        raise NotFound("No such export") from None
    # Canonical encoding only: base64's last character has spare bits a decoder ignores, so without this
    # check several strings would carry one token (harmless, but a link should have exactly one spelling).
    if _b64(payload) != body or _b64(mac) != mac_text:
        raise NotFound("No such export")
    expected = hmac.new(_key(secret), payload, hashlib.sha256).digest()
    if len(payload) != _PAYLOAD.size or not hmac.compare_digest(mac, expected):
        raise NotFound("No such export")
    export_bytes, org_bytes, expires_at = _PAYLOAD.unpack(payload)
    if expires_at <= (time.time() if now is None else now):
        raise ExportGone("This download link has expired: ask for a new export")
    return ExportLink(UUID(bytes=export_bytes), UUID(bytes=org_bytes), expires_at)
