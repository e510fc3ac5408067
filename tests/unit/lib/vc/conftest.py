"""Fixtures for the VC toolkit's unit tests: an issuer (did:web + key), a credential built the way the
issuance service builds one, and in-memory resolvers standing in for the domain's."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.lib.vc.credential import build_credential, identity_object
from app.lib.vc.did import did_web
from app.lib.vc.keys import SigningKey, generate_key
from app.lib.vc.statuslist import status_entry

PUBLIC_URL = "http://localhost:8000"
ISSUED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class Issuer:
    did: str
    key: SigningKey
    list_url: str
    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    revoked: set[int] = field(default_factory=set)

    async def resolve_key(self, kid: str) -> Ed25519PublicKey | None:
        return self.keys.get(kid)

    async def resolve_status(self, entry: Mapping[str, Any]) -> bool | None:
        if entry.get("statusListCredential") != self.list_url:
            return None
        return int(entry["statusListIndex"]) in self.revoked


def make_issuer(slug: str = "demo") -> Issuer:
    did = did_web(PUBLIC_URL, slug)
    private: Ed25519PrivateKey = generate_key()
    kid = f"{did}#key-20261130-{uuid.uuid4().hex[:8]}"
    list_url = f"{PUBLIC_URL}/orgs/{slug}/credentials/status/{uuid.uuid4()}"
    return Issuer(did, SigningKey(kid, private), list_url, {kid: private.public_key()})


def make_credential(issuer: Issuer, *, index: int = 5, valid_until: datetime | None = None) -> dict[str, Any]:
    return build_credential(
        credential_id=f"{PUBLIC_URL}/credentials/{uuid.uuid4()}",
        issuer={"id": issuer.did, "type": ["Profile"], "name": "Demo Academy", "url": PUBLIC_URL},
        achievement={
            "id": f"{PUBLIC_URL}/orgs/demo/achievements/backend-foundations",
            "type": ["Achievement"],
            "name": "Backend Foundations",
            "description": "Completed every lesson and passed every assessment of Backend Foundations.",
            "criteria": {"narrative": "Complete all lessons and pass all assessments."},
            "image": {"id": f"{PUBLIC_URL}/static/badges/backend.svg", "type": "Image"},
        },
        subject_id=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'learner')}",
        identity=identity_object("Ada@Example.com", "5f2b0c1d"),
        valid_from=ISSUED,
        valid_until=valid_until,
        status_entry=status_entry(issuer.list_url, index),
    )


@pytest.fixture
def issuer() -> Issuer:
    return make_issuer()


@pytest.fixture
def credential(issuer: Issuer) -> dict[str, Any]:
    return make_credential(issuer)
