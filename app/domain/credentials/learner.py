"""A learner's own credentials (``/v1/me/credentials``) and the DID future credentials name them by
(``/v1/me/credential-subject``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import select

from app.config import Settings
from app.db.models import Course, Credential, User
from app.domain.audit.services import record_audit
from app.domain.base import TenantService
from app.domain.credentials.issuance import credential_url
from app.lib.errors import NotFound, ValidationFailed
from app.lib.pagination import fetch_page, paginated
from app.lib.text import TextRejected, clean_name

# did:<method>:<method-specific-id> (W3C DID Core §3.1: method names are lower-case letters and digits; the
# id is idchars and percent-escapes, colon-separated, not ending in a colon).
_IDCHARS = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+"
DID_PATTERN = re.compile(rf"^did:[a-z0-9]+:{_IDCHARS}(?::{_IDCHARS})*$")
DID_MAX_LENGTH = 500


class CredentialItem(msgspec.Struct):
    """One of the learner's credentials: the signed OBv3 JSON (with its Data Integrity proof), the same
    credential as a VC-JWT, and what the web app shows."""

    id: UUID
    course_id: UUID
    issued_at: datetime
    status: str  # "active" or "revoked"
    credential: dict[str, Any]
    jwt: str
    share_url: str
    course_title: str
    achievement_name: str
    issuer_name: str
    image: str
    display_name: str
    revoked_at: datetime | None
    revocation_reason: str
    linkedin_url: str


class DisplayNameIn(msgspec.Struct, forbid_unknown_fields=True):
    display_name: Annotated[str, msgspec.Meta(max_length=400)]  # checked (1-200 after trimming) by the service


class CredentialSubject(msgspec.Struct):
    """The DID the learner's future credentials name as ``credentialSubject.id`` (null: a pseudonymous
    ``urn:uuid`` per org); credentials already issued keep the subject they were issued to."""

    did: str | None


def linkedin_url(
    *, name: str, organization: str, issued_at: datetime, share_url: str, credential_id: UUID, valid_until: Any = None
) -> str:
    """LinkedIn's "Add to profile" link for a certification, filled in from the credential."""
    query: dict[str, str | int] = {
        "startTask": "CERTIFICATION_NAME",
        "name": name,
        "organizationName": organization,
        "issueYear": issued_at.year,
        "issueMonth": issued_at.month,
        "certUrl": share_url,
        "certId": str(credential_id),
    }
    if isinstance(valid_until, str) and len(valid_until) >= 7 and valid_until[:4].isdigit():
        query["expirationYear"], query["expirationMonth"] = int(valid_until[:4]), int(valid_until[5:7])
    return "https://www.linkedin.com/profile/add?" + urlencode(query)


def _image_of(achievement: dict[str, Any]) -> str:
    image = achievement.get("image")
    if isinstance(image, dict):
        return str(image.get("id", ""))
    return str(image or "")


def item_of(settings: Settings, credential: Credential, course_title: str) -> CredentialItem:
    document = credential.document or {}
    issuer = document.get("issuer") if isinstance(document.get("issuer"), dict) else {}
    achievement = credential.achievement or {}
    share = credential_url(settings, credential.id)
    name = str(achievement.get("name") or course_title)
    issuer_name = str((issuer or {}).get("name", ""))
    return CredentialItem(
        id=credential.id,
        course_id=credential.course_id,
        issued_at=credential.issued_at,
        status=credential.status,
        credential=document,
        jwt=credential.jwt,
        share_url=share,
        course_title=course_title,
        achievement_name=name,
        issuer_name=issuer_name,
        image=_image_of(achievement),
        display_name=credential.display_name,
        revoked_at=credential.revoked_at,
        revocation_reason=credential.revocation_reason,
        linkedin_url=linkedin_url(
            name=name,
            organization=issuer_name,
            issued_at=credential.issued_at,
            share_url=share,
            credential_id=credential.id,
            valid_until=document.get("validUntil"),
        ),
    )


def _display_name(raw: str) -> str:
    try:
        return clean_name(raw, max_length=200)
    except TextRejected as exc:
        raise ValidationFailed(
            f"display_name: {exc}", errors=[{"pointer": "#/display_name", "detail": str(exc)}]
        ) from exc


def check_did(raw: str | None) -> str | None:
    """A plausible DID (``did:<method>:<id>``, at most 500 characters), trimmed; None or "" clears it."""
    if raw is None or not raw.strip():
        return None
    did = raw.strip()
    if len(did) > DID_MAX_LENGTH or not DID_PATTERN.match(did):
        detail = f"a DID looks like did:<method>:<identifier> (at most {DID_MAX_LENGTH} characters)"
        raise ValidationFailed(f"did: {detail}", errors=[{"pointer": "#/did", "detail": detail}])
    return did


@dataclass(eq=False, repr=False, kw_only=True)
class LearnerCredentialService(TenantService):
    """The signed-in learner's credentials (their own only) and their credential DID."""

    settings: Settings

    async def my_credentials(self, page: LimitOffset) -> OffsetPagination[CredentialItem]:
        query = (
            select(Credential, Course.title)
            .join(Course, Course.id == Credential.course_id)
            .where(Credential.user_id == self.principal.user_id)
            .order_by(Credential.issued_at.desc(), Credential.id)
        )
        async with self._tx() as session:
            rows, result = await fetch_page(session, query, page)
            return paginated([item_of(self.settings, credential, title) for credential, title in rows], result)

    async def rename(self, credential_id: UUID, data: DisplayNameIn) -> CredentialItem:
        """The name the public page shows as the recipient."""
        name = _display_name(data.display_name)
        async with self._tx() as session:
            row = (
                await session.execute(
                    select(Credential, Course.title)
                    .join(Course, Course.id == Credential.course_id)
                    .where(Credential.id == credential_id, Credential.user_id == self.principal.user_id)
                    .with_for_update(of=Credential)
                )
            ).one_or_none()
            if row is None:
                raise NotFound("No such credential of yours")
            credential, title = row
            before = credential.display_name
            credential.display_name = name
            record_audit(
                session,
                org_id=self.principal.org_id,
                actor_id=self.principal.user_id,
                action="credential.display_name",
                entity_type="credential",
                entity_id=credential.id,
                before={"display_name": before},
                after={"display_name": name},
                request_id=self.request_id,
            )
            await session.flush()
            return item_of(self.settings, credential, title)

    async def subject(self) -> CredentialSubject:
        async with self._tx() as session:
            user = await session.get(User, self.principal.user_id)
            if user is None:
                raise NotFound("No such user")
            return CredentialSubject(did=user.credential_did)

    async def set_subject(self, data: CredentialSubject) -> CredentialSubject:
        did = check_did(data.did)
        async with self._tx() as session:
            user = await session.get(User, self.principal.user_id, with_for_update=True)
            if user is None:
                raise NotFound("No such user")
            user.credential_did = did
            return CredentialSubject(did=did)
