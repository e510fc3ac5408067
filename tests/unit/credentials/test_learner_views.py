"""Pure parts of the learner and share views: DID syntax, the LinkedIn link, the generated badge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from app.domain.credentials.badge import badge_svg
from app.domain.credentials.learner import check_did, linkedin_url
from app.lib.errors import ValidationFailed


@pytest.mark.parametrize(
    "did",
    [
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "did:web:example.org",
        "did:web:example.org%3A8443:users:alice",
        "did:ion:EiClkZMDxPKqC9c-umQfTkR8vvZ9JPhl_xLDI9Nfk38w5w",
    ],
)
def test_plausible_dids_are_accepted(did: str) -> None:
    assert check_did(f"  {did} ") == did


@pytest.mark.parametrize(
    "did", ["did", "did:", "did:web", "did:web:", "did::x", "DID:web:x", "did:Web:x", "did:web:a b", "did:web:x:", "x"]
)
def test_implausible_dids_are_refused(did: str) -> None:
    with pytest.raises(ValidationFailed):
        check_did(did)


def test_long_dids_are_refused_and_empty_clears() -> None:
    with pytest.raises(ValidationFailed):
        check_did("did:web:" + "a" * 493)
    assert check_did(None) is None
    assert check_did("   ") is None


def test_the_linkedin_link_names_the_certification() -> None:
    cid = uuid.uuid4()
    url = linkedin_url(
        name="Distributed Systems Lab & more",
        organization="Demo University",
        issued_at=datetime(2026, 11, 30, tzinfo=UTC),
        share_url=f"https://lyceum.example/credentials/{cid}",
        credential_id=cid,
        valid_until="2029-11-29T00:00:00Z",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.linkedin.com", "/profile/add")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "startTask": "CERTIFICATION_NAME",
        "name": "Distributed Systems Lab & more",
        "organizationName": "Demo University",
        "issueYear": "2026",
        "issueMonth": "11",
        "certUrl": f"https://lyceum.example/credentials/{cid}",
        "certId": str(cid),
        "expirationYear": "2029",
        "expirationMonth": "11",
    }


def test_the_generated_badge_is_accessible_and_escaped() -> None:
    svg = badge_svg("Tags <script> & a very long course title that needs wrapping over lines", "Acme & Co")
    assert 'role="img"' in svg
    assert "<title" in svg
    assert "<desc" in svg
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "Acme &amp; Co" in svg
