"""W3C Bitstring Status List (app/lib/vc/statuslist.py)."""

from __future__ import annotations

import base64
import gzip
from datetime import UTC, datetime

import pytest

from app.lib.vc.statuslist import Bitstring, revoked_in, status_entry, status_list_credential


def test_bit_order_known_vector() -> None:
    bits = Bitstring(16, revoked=[0, 7, 9])
    assert bits.to_bytes() == bytes([0x81, 0x40])
    encoded = bits.encode()
    assert encoded.startswith("u")
    assert "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert raw[0] == 0x81
    assert raw[1] == 0x40


def test_round_trip_and_determinism() -> None:
    revoked = {0, 1, 77, 4095, 131071}
    bits = Bitstring(revoked=revoked)
    assert bits.size == 131072
    decoded = Bitstring.decode(bits.encode())
    assert decoded.size == 131072
    assert {i for i in range(decoded.size) if decoded.get(i)} == revoked
    assert Bitstring(revoked=revoked).encode() == bits.encode()  # mtime=0: same bits, same string
    bits.set(77, False)
    assert not bits.get(77)


def test_out_of_range_and_bad_input() -> None:
    bits = Bitstring(8)
    for index in (-1, 8, True):
        with pytest.raises(IndexError):
            bits.set(index)
    for encoded in ("", "u!!!", "uAAAA", "u" + base64.urlsafe_b64encode(gzip.compress(b"")).decode().rstrip("=")):
        with pytest.raises(ValueError, match="encodedList"):
            Bitstring.decode(encoded)
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(64 * 1024 * 1024))).decode().rstrip("=")
    with pytest.raises(ValueError, match="beyond the accepted size"):
        Bitstring.decode(bomb)


def test_status_list_credential_and_entry() -> None:
    url = "http://localhost:8000/orgs/demo/credentials/status/3f1c"
    bits = Bitstring(revoked=[5])
    document = status_list_credential(
        url, {"id": "did:web:localhost%3A8000:orgs:demo"}, bits, datetime(2026, 11, 30, tzinfo=UTC)
    )
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["credentialSubject"]["type"] == "BitstringStatusList"
    assert document["credentialSubject"]["statusPurpose"] == "revocation"
    assert document["validFrom"] == "2026-11-30T00:00:00Z"
    entry = status_entry(url, 5)
    assert entry == {
        "id": f"{url}#5",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "5",
        "statusListCredential": url,
    }
    assert revoked_in(document, entry) is True
    assert revoked_in(document, status_entry(url, 6)) is False
    with pytest.raises(ValueError, match="statusListIndex"):
        revoked_in(document, {**entry, "statusListIndex": "\u00b2"})
    with pytest.raises(ValueError, match="not the one the entry names"):
        revoked_in(document, status_entry(url + "x", 5))
