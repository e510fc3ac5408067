"""W3C Bitstring Status List v1.0: the revocation list every issued credential points into.

Bit ``i`` is the most significant bit of byte ``i // 8`` (index 0 is the leftmost bit of the first byte);
the published ``encodedList`` is multibase base64url ("u" prefix, no padding) of the GZIP-compressed
bitstring. GZIP's header time is fixed at 0 so the same bits always encode to the same string (stable
ETags, reproducible tests).
"""

from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from app.lib.vc.checks import xsd_datetime
from app.lib.vc.jsonld import VC_V2

DEFAULT_SIZE = 131072  # 16 KB uncompressed: the spec's minimum, for group privacy
MAX_DECODED_BYTES = 16 * 1024 * 1024  # refuse gzip bombs when decoding someone else's list


class Bitstring:
    def __init__(self, size: int = DEFAULT_SIZE, revoked: Iterable[int] = ()) -> None:
        if size <= 0 or size % 8:
            raise ValueError("size must be a positive multiple of 8")
        self.size = size
        self._bits = bytearray(size // 8)
        for index in revoked:
            self.set(index)

    def _check(self, index: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.size:
            raise IndexError(f"status index {index!r} is outside 0..{self.size - 1}")

    def set(self, index: int, value: bool = True) -> None:
        self._check(index)
        mask = 0x80 >> (index % 8)
        if value:
            self._bits[index // 8] |= mask
        else:
            self._bits[index // 8] &= ~mask & 0xFF

    def get(self, index: int) -> bool:
        self._check(index)
        return bool(self._bits[index // 8] & (0x80 >> (index % 8)))

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def encode(self) -> str:
        """``"u" + base64url(gzip(bits, mtime=0))`` without padding."""
        # Level 6 (zlib's default): level 9 takes ~15 ms on a sparse 16 KiB list for ~10% fewer bytes.
        compressed = gzip.compress(bytes(self._bits), compresslevel=6, mtime=0)
        return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, encoded: str) -> Bitstring:
        """Parse an ``encodedList`` (multibase "u" prefix optional); ``ValueError`` when it is not one."""
        if not isinstance(encoded, str) or not encoded:
            raise ValueError("encodedList must be a non-empty string")
        text = encoded[1:] if encoded.startswith("u") else encoded
        try:
            compressed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            # wbits 16+MAX: gzip framing; max_length stops a small list inflating into gigabytes.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(compressed, MAX_DECODED_BYTES)
        except (ValueError, zlib.error) as exc:
            raise ValueError("encodedList is not base64url of GZIP data") from exc
        if inflater.unconsumed_tail:
            raise ValueError("encodedList inflates beyond the accepted size")
        if not raw:
            raise ValueError("encodedList is empty")
        bits = cls(len(raw) * 8)
        bits._bits[:] = raw
        return bits


def status_list_credential(
    list_url: str, issuer: Mapping[str, Any], bits: Bitstring, valid_from: datetime
) -> dict[str, Any]:
    """The unsigned BitstringStatusListCredential published at ``list_url`` (revocation purpose)."""
    return {
        "@context": [VC_V2],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": dict(issuer),
        "validFrom": xsd_datetime(valid_from),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": bits.encode(),
        },
    }


def status_entry(list_url: str, index: int) -> dict[str, str]:
    """The ``credentialStatus`` a credential carries for its slot ``index`` in the list at ``list_url``."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def revoked_in(list_credential: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    """Whether ``entry``'s bit is set in a (verified) list credential; ``ValueError`` when they do not fit."""
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise ValueError("the status list credential has no credentialSubject")
    if subject.get("statusPurpose") != entry.get("statusPurpose"):
        raise ValueError("the status list's purpose differs from the entry's")
    if list_credential.get("id") != entry.get("statusListCredential"):
        raise ValueError("the status list is not the one the entry names")
    raw_index = entry.get("statusListIndex")
    if not isinstance(raw_index, str) or not (raw_index.isascii() and raw_index.isdigit()) or len(raw_index) > 12:
        raise ValueError("statusListIndex is not a non-negative integer string")
    bits = Bitstring.decode(subject.get("encodedList"))  # type: ignore[arg-type]
    index = int(raw_index)
    if index >= bits.size:
        raise ValueError("statusListIndex is beyond the end of the list")
    return bits.get(index)
