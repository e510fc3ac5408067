"""Each org as an issuer: its did:web identity, its OBv3 Profile and its Ed25519 signing keys.

The private half of a key is stored only sealed (AES-256-GCM under the key-encryption key from settings,
with ``<org id>|<kid>`` as associated data, so a sealed blob moved onto another row or org does not open).
It is opened in memory to sign and never logged, returned or put in an event. Every function here runs in
the caller's transaction, already scoped to ``org_id`` (``Database.transaction(org_id)``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import IssuerKey, IssuerProfile, Organization
from app.lib.errors import NotFound
from app.lib.sealing import key_encryption_key
from app.lib.vc.did import did_web
from app.lib.vc.keys import SigningKey, generate_key, open_private_key, public_jwk, seal_private_key

# Concurrent first use: the loser of the race on ``uq_issuer_keys_active`` re-reads the winner's key.
KEY_ATTEMPTS = 3


@dataclass(frozen=True)
class IssuerIdentity:
    """An org as an issuer: its DID, the OBv3 ``Profile`` credentials embed as ``issuer``, and its slug."""

    did: str
    profile: dict[str, Any]
    slug: str


def key_aad(org_id: UUID, kid: str) -> bytes:
    """Associated data binding a sealed private key to its org and kid."""
    return f"{org_id}|{kid}".encode()


async def _org(session: AsyncSession, org_id: UUID) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:  # RLS shows only the transaction's own org
        raise NotFound("Unknown organisation")
    return org


def issuer_did(settings: Settings, slug: str) -> str:
    return did_web(settings.base_url, slug)


def profile_document(did: str, name: str, profile: IssuerProfile | None) -> dict[str, Any]:
    """The OBv3 ``Profile`` (optional fields only when set: the schema refuses empty URIs)."""
    document: dict[str, Any] = {"id": did, "type": ["Profile"], "name": name}
    if profile is not None:
        if profile.url:
            document["url"] = profile.url
        if profile.email:
            document["email"] = profile.email
        if profile.image_url:
            document["image"] = {"id": profile.image_url, "type": "Image"}
        if profile.description:
            document["description"] = profile.description
    return document


async def issuer_identity(session: AsyncSession, settings: Settings, org_id: UUID) -> IssuerIdentity:
    """The org's DID and Profile; with no saved profile, the org's name is the issuer's name."""
    org = await _org(session, org_id)
    profile = await session.scalar(select(IssuerProfile).where(IssuerProfile.org_id == org_id))
    did = issuer_did(settings, org.slug)
    name = profile.name if profile is not None and profile.name else org.name
    return IssuerIdentity(did=did, profile=profile_document(did, name, profile), slug=org.slug)


def new_kid(did: str, now: datetime | None = None) -> str:
    """``<did>#key-<yyyymmdd>-<8 hex>``: dated for people, random so two keys of a day never collide."""
    moment = now or datetime.now(UTC)
    return f"{did}#key-{moment:%Y%m%d}-{secrets.token_hex(4)}"


def _open(settings: Settings, row: IssuerKey) -> SigningKey:
    private = open_private_key(
        bytes(row.private_key_sealed), key_encryption_key(settings), key_aad(row.org_id, row.kid)
    )
    return SigningKey(kid=row.kid, private_key=private)


async def _active(session: AsyncSession, org_id: UUID) -> IssuerKey | None:
    return await session.scalar(select(IssuerKey).where(IssuerKey.org_id == org_id, IssuerKey.active.is_(True)))


async def _insert_key(session: AsyncSession, settings: Settings, org_id: UUID, did: str) -> IssuerKey:
    private = generate_key()
    kid = new_kid(did)
    row = IssuerKey(
        org_id=org_id,
        kid=kid,
        public_jwk=public_jwk(private, kid),
        private_key_sealed=seal_private_key(private, key_encryption_key(settings), key_aad(org_id, kid)),
        active=True,
        retired_at=None,
    )
    session.add(row)
    await session.flush()
    return row


async def signing_key(session: AsyncSession, settings: Settings, org_id: UUID) -> SigningKey:
    """The org's active signing key, generated on first use.

    Two first uses at once both insert; the partial unique index ``uq_issuer_keys_active`` makes the second
    wait for the first and then fail, inside a savepoint, so its transaction carries on and reads the key
    the first committed. Every caller therefore signs with the one key that is published."""
    for _ in range(KEY_ATTEMPTS):
        row = await _active(session, org_id)
        if row is not None:
            return _open(settings, row)
        identity_did = issuer_did(settings, (await _org(session, org_id)).slug)
        try:
            async with session.begin_nested():
                row = await _insert_key(session, settings, org_id, identity_did)
        except IntegrityError:
            continue  # another transaction created it first: read theirs
        return _open(settings, row)
    raise RuntimeError("could not create or read the issuer's active key")  # pragma: no cover - needs 3 lost races


async def _lock_keys(session: AsyncSession, org_id: UUID) -> None:
    # Rotations of one org run one at a time (a transaction-scoped advisory lock, released at commit).
    await session.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"lyceum:issuer_keys:{org_id}"}
    )


async def rotate_key(session: AsyncSession, settings: Settings, org_id: UUID) -> tuple[str | None, str]:
    """Retire the active key (it stays published, so credentials it signed keep verifying) and make a new
    one active; returns (old kid or None, new kid)."""
    await _lock_keys(session, org_id)
    did = issuer_did(settings, (await _org(session, org_id)).slug)
    retired: str | None = None
    for _ in range(KEY_ATTEMPTS):
        old = await _active(session, org_id)
        if old is not None:
            old.active = False
            old.retired_at = datetime.now(UTC)
            await session.flush()  # before the insert: the partial unique index allows one active key
            retired = old.kid
        try:
            async with session.begin_nested():
                row = await _insert_key(session, settings, org_id, did)
        except IntegrityError:
            continue  # a first use (which takes no lock) created a key meanwhile: retire that one too
        return retired, row.kid
    raise RuntimeError("could not rotate the issuer's key")  # pragma: no cover - needs 3 lost races


async def published_keys(session: AsyncSession, org_id: UUID) -> list[IssuerKey]:
    """Every key of the org, the active one first, then newest first (retired keys stay published)."""
    return list(
        await session.scalars(
            select(IssuerKey)
            .where(IssuerKey.org_id == org_id)
            .order_by(IssuerKey.active.desc(), IssuerKey.created_at.desc(), IssuerKey.kid)
        )
    )
