"""What outsiders resolve without signing in: each org's DID document and JWKS, its signed status lists, and
the verification report of any credential (``POST /v1/credentials/verify``).

Nothing here trusts the caller: an org is found by its slug through the definer function login uses
(``lyceum_org_id_for_slug``; organisations are not readable without a tenant), then read under that org's
row-level security. The verifier's resolvers answer only for this deployment's own did:web keys and status
lists (parsed from the URL, never fetched); anything else is unknown, so verifying makes no network call.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text

from app.config import Settings
from app.db.engine import Database
from app.db.models import Credential, IssuerKey, StatusList
from app.domain.credentials.issuer import issuer_did, published_keys
from app.domain.credentials.schemas import VerifyCheck, VerifyOut
from app.domain.credentials.status import PURPOSE, published_status_list
from app.lib.errors import NotFound, ValidationFailed
from app.lib.ratelimit import TokenBucketLimiter, bucket
from app.lib.throttle import enforce
from app.lib.vc.did import did_document
from app.lib.vc.keys import public_key_from_jwk
from app.lib.vc.verify import verify

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
KEY_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
INDEX = re.compile(r"[0-9]{1,12}")
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
KEY_CACHE_SIZE = 1024


class _KeyCache:
    """Published public keys by kid. A kid names one key forever (unique, never reused or changed), so a
    hit can never be stale; only found keys are kept."""

    def __init__(self, size: int = KEY_CACHE_SIZE) -> None:
        self._keys: OrderedDict[str, Ed25519PublicKey] = OrderedDict()
        self._size = size

    def get(self, kid: str) -> Ed25519PublicKey | None:
        key = self._keys.get(kid)
        if key is not None:
            self._keys.move_to_end(kid)
        return key

    def put(self, kid: str, key: Ed25519PublicKey) -> None:
        self._keys[kid] = key
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)


_KEYS = _KeyCache()
# Slug -> org id for the public routes (every verify resolves one or two): found ids only, briefly, so a
# verification costs one query for its status bit. A slug is never reassigned while credentials name it.
ORG_CACHE_SECONDS = 60.0
ORG_CACHE_SIZE = 1024
_ORGS: dict[tuple[str, str], tuple[UUID, float]] = {}  # (database, slug) -> (org id, until)


def verify_buckets(settings: Settings, client: str) -> list[Any]:
    address = hashlib.sha256(client.encode()).hexdigest()[:32]
    return [
        bucket("ip", f"rl:verify:ip:{address}", settings.rate_limit_verify_ip),
        bucket("global", "rl:verify:global", settings.rate_limit_verify_global),
    ]


@dataclass(frozen=True)
class StatusListDocument:
    document: dict[str, Any]
    etag: str


@dataclass(eq=False, repr=False, kw_only=True)
class PublicCredentialService:
    """Unauthenticated reads; every transaction is scoped to the org the URL names."""

    db: Database
    settings: Settings
    limiter: TokenBucketLimiter

    # ------------------------------------------------------------------ orgs and keys

    async def org_id(self, slug: str) -> UUID | None:
        if not SLUG.fullmatch(slug):
            return None
        cached = _ORGS.get((self.settings.database_url, slug))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self.db.transaction(None) as session:
            found = await session.scalar(text("select lyceum_org_id_for_slug(:slug)"), {"slug": slug})
        if found is None:
            return None
        org_id = UUID(str(found))
        if len(_ORGS) >= ORG_CACHE_SIZE:
            _ORGS.clear()
        _ORGS[(self.settings.database_url, slug)] = (org_id, time.monotonic() + ORG_CACHE_SECONDS)
        return org_id

    async def _org_or_404(self, slug: str) -> UUID:
        org_id = await self.org_id(slug)
        if org_id is None:
            raise NotFound("No such organisation")
        return org_id

    async def did_document(self, slug: str) -> dict[str, Any]:
        """The org's did:web document: every key it ever published (retired ones verify old credentials)."""
        org_id = await self._org_or_404(slug)
        async with self.db.transaction(org_id) as session:
            keys = await published_keys(session, org_id)
        did = issuer_did(self.settings, slug)
        return did_document(did, [(key.kid, public_key_from_jwk(key.public_jwk)) for key in keys])

    async def jwks(self, slug: str) -> dict[str, Any]:
        org_id = await self._org_or_404(slug)
        async with self.db.transaction(org_id) as session:
            keys = await published_keys(session, org_id)
        return {"keys": [dict(key.public_jwk) for key in keys]}

    async def status_list(self, slug: str, list_id: str) -> StatusListDocument:
        """The signed status list credential (signed now if it never was, or its key was since retired)."""
        org_id = await self._org_or_404(slug)
        if not UUID_TEXT.fullmatch(list_id):
            raise NotFound("No such status list")
        async with self.db.transaction(org_id) as session:
            status_list = await published_status_list(session, self.settings, UUID(list_id))
            if status_list is None:
                raise NotFound("No such status list")
            return StatusListDocument(document=dict(status_list.document), etag=status_list.etag)

    # ------------------------------------------------------------------ verification

    def _parse_kid(self, kid: str) -> tuple[str, str] | None:
        """(slug, did) when ``kid`` is a key of one of this deployment's orgs: ``<our did:web>#<name>``."""
        prefix = issuer_did(self.settings, "")  # "did:web:<host>[%3A<port>]:orgs:"
        if len(kid) > 600 or not kid.startswith(prefix):
            return None
        slug, hash_sign, name = kid[len(prefix) :].partition("#")
        if not hash_sign or not SLUG.fullmatch(slug) or not KEY_NAME.fullmatch(name):
            return None
        return slug, issuer_did(self.settings, slug)

    async def resolve_key(self, kid: str) -> Ed25519PublicKey | None:
        if not isinstance(kid, str):
            return None
        cached = _KEYS.get(kid)
        if cached is not None:
            return cached
        parsed = self._parse_kid(kid)
        if parsed is None:
            return None
        org_id = await self.org_id(parsed[0])
        if org_id is None:
            return None
        async with self.db.transaction(org_id) as session:
            jwk = await session.scalar(select(IssuerKey.public_jwk).where(IssuerKey.kid == kid))
        if jwk is None:
            return None
        key = public_key_from_jwk(jwk)
        _KEYS.put(kid, key)
        return key

    def _parse_status_url(self, url: Any) -> tuple[str, UUID] | None:
        prefix = f"{self.settings.base_url}/orgs/"
        if not isinstance(url, str) or len(url) > 1000 or not url.startswith(prefix):
            return None
        slug, sep, rest = url[len(prefix) :].partition("/credentials/status/")
        if not sep or not SLUG.fullmatch(slug) or not UUID_TEXT.fullmatch(rest):
            return None
        return slug, UUID(rest)

    async def resolve_status(self, entry: Mapping[str, Any]) -> bool | None:
        """True when the entry's bit is set (revoked), False when not, None for a list that is not ours."""
        if not isinstance(entry, Mapping) or entry.get("statusPurpose") != PURPOSE:
            return None
        parsed = self._parse_status_url(entry.get("statusListCredential"))
        raw_index = entry.get("statusListIndex")
        if parsed is None or not isinstance(raw_index, str) or not INDEX.fullmatch(raw_index):
            return None
        org_id = await self.org_id(parsed[0])
        if org_id is None:
            return None
        index = int(raw_index)
        async with self.db.transaction(org_id) as session:
            # One round trip: the list (is it ours, is the index inside it) and the credential in that slot.
            row = (
                await session.execute(
                    select(StatusList.size, Credential.status)
                    .outerjoin(
                        Credential,
                        (Credential.status_list_id == StatusList.id) & (Credential.status_index == index),
                    )
                    .where(StatusList.id == parsed[1])
                )
            ).first()
        if row is None or index >= row[0]:
            return None
        return row[1] == "revoked"  # no credential in the slot: the bit is 0

    async def verify(self, body: Any, client: str) -> VerifyOut:
        """The report on ``{"credential": {...}}`` or ``{"jwt": "..."}``; whatever the value holds, the
        checks say what is wrong (200). Only a body that names neither is refused (422)."""
        await enforce(self.settings, self.limiter, "verify", verify_buckets(self.settings, client), fail_open=True)
        if not isinstance(body, Mapping) or ("credential" not in body and "jwt" not in body):
            raise ValidationFailed(
                'Send {"credential": {...}} (with its Data Integrity proof) or {"jwt": "<VC-JWT>"}',
                errors=[{"pointer": "#", "detail": 'needs a "credential" or a "jwt" member'}],
            )
        subject = body["credential"] if "credential" in body else body["jwt"]
        verified, checks = await verify(
            subject, resolve_key=self.resolve_key, resolve_status=self.resolve_status, now=datetime.now(UTC)
        )
        return VerifyOut(
            verified=verified, checks=[VerifyCheck(check=c.check, passed=c.passed, detail=c.detail) for c in checks]
        )
