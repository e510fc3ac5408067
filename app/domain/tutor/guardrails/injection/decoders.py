"""Decoders for blobs hidden in a message: base64 (standard and URL-safe), hex, ``\\x``/``\\u`` escapes
and percent-encoding. Only blobs that decode to readable text count."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import urllib.parse

MAX_DECODED_BLOBS = 12
MAX_BLOB_CHARS = 8000

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:(?:0x)?[0-9a-fA-F]{2}[ :,]?){8,}")
_ESCAPED = re.compile(r"(?:\\x[0-9a-fA-F]{2}){6,}|(?:\\u[0-9a-fA-F]{4}){4,}|(?:%[0-9a-fA-F]{2}[^%\s]{0,3}){6,}")


def _printable(raw: bytes) -> str | None:
    """Decoded bytes that read as text (not binary noise), or None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 6:
        return None
    readable = sum(1 for char in text if char.isprintable() or char in "\n\t")
    letters = sum(1 for char in text if char.isalpha())
    return text if readable / len(text) >= 0.95 and letters >= len(text) * 0.5 else None


def _b64(blob: str) -> str | None:
    padded = blob + "=" * (-len(blob) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_" if ("-" in blob or "_" in blob) else None, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _printable(raw)


def _hex(blob: str) -> str | None:
    digits = re.sub(r"0x|[ :,]", "", blob)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return _printable(bytes.fromhex(digits))
    except ValueError:
        return None


def _unescape(blob: str) -> str | None:
    if blob.startswith("%"):
        return _printable(urllib.parse.unquote_to_bytes(blob))
    try:
        return _printable(codecs.decode(blob, "unicode_escape").encode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def decoded_blobs(original: str) -> list[tuple[str, str]]:
    """(encoding, decoded text) for every blob in the message that decodes to readable text."""
    found: list[tuple[str, str]] = []
    for via, pattern, decoder in (("base64", _BASE64, _b64), ("hex", _HEX, _hex), ("escaped", _ESCAPED, _unescape)):
        for match in pattern.finditer(original):
            blob = match.group(0).strip()[:MAX_BLOB_CHARS]
            if via == "base64" and blob.isalpha() and blob.islower():
                continue  # a long ordinary word, not an encoding
            decoded = decoder(blob)
            if decoded:
                found.append((via, decoded))
            if len(found) >= MAX_DECODED_BLOBS:
                return found
    return found


__all__ = ["MAX_BLOB_CHARS", "MAX_DECODED_BLOBS", "decoded_blobs"]
