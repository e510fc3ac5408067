"""Signed export download links: they round-trip, and any change, another key, garbage or age is refused
with the right answer (404 for anything not ours, 410 only for a genuine link past its expiry)."""

from __future__ import annotations

import time
import uuid

import pytest

from app.domain.dataexport.links import ExportGone, sign_link, verify_link
from app.lib.errors import NotFound

SECRET = "s" * 48


def test_a_signed_link_round_trips() -> None:
    export_id, org_id, expires = uuid.uuid4(), uuid.uuid4(), int(time.time()) + 600
    token = sign_link(SECRET, export_id, org_id, expires)
    link = verify_link(SECRET, token)
    assert (link.export_id, link.org_id, link.expires_at) == (export_id, org_id, expires)
    assert len(token) < 120  # compact
    assert all(c.isalnum() or c in "-_." for c in token)  # URL-safe


def test_every_changed_character_is_refused_as_unknown() -> None:
    token = sign_link(SECRET, uuid.uuid4(), uuid.uuid4(), int(time.time()) + 600)
    for position in range(len(token)):
        if token[position] == ".":
            continue
        swapped = "A" if token[position] != "A" else "B"
        tampered = token[:position] + swapped + token[position + 1 :]
        with pytest.raises(NotFound):
            verify_link(SECRET, tampered)


@pytest.mark.parametrize("garbage", ["", ".", "abc", "abc.def", "%%%.%%%", "a" * 500, "x.y.z"])
def test_garbage_is_not_found(garbage: str) -> None:
    with pytest.raises(NotFound):
        verify_link(SECRET, garbage)


def test_another_key_is_not_found() -> None:
    token = sign_link(SECRET, uuid.uuid4(), uuid.uuid4(), int(time.time()) + 600)
    with pytest.raises(NotFound):
        verify_link("t" * 48, token)


def test_a_moved_org_or_expiry_does_not_verify() -> None:
    """The org and expiry are under the MAC: a link cannot be re-pointed at another tenant or extended."""
    export_id, org_id = uuid.uuid4(), uuid.uuid4()
    token = sign_link(SECRET, export_id, org_id, int(time.time()) + 600)
    other = sign_link(SECRET, export_id, uuid.uuid4(), int(time.time()) + 600)
    spliced = other.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(NotFound):
        verify_link(SECRET, spliced)


def test_an_expired_link_is_gone() -> None:
    token = sign_link(SECRET, uuid.uuid4(), uuid.uuid4(), 1_000)
    with pytest.raises(ExportGone) as caught:
        verify_link(SECRET, token)
    assert caught.value.status == 410
    assert verify_link(SECRET, token, now=999).expires_at == 1_000
