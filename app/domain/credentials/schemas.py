"""API shapes of the credentials domain (issuer profile and keys, staff list and revocation, verification).

Shared by the issuer and issuance parts of the domain; each part adds its own structs here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

# OBv3's Profile schema requires real URIs and e-mail addresses: refuse what would make issuance fail later.
HttpUrl = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^(https?://[^\s\x00]+)?$")]
ImageUrl = Annotated[str, msgspec.Meta(max_length=1000, pattern=r"^(https?://[^\s\x00]+)?$")]
Email = Annotated[str, msgspec.Meta(max_length=320, pattern=r"^([^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+)?$")]


class IssuerKeyOut(msgspec.Struct):
    """A published signing key (the private half never leaves the service)."""

    kid: str
    active: bool
    created_at: datetime
    retired_at: datetime | None


class IssuerOut(msgspec.Struct):
    """The org as an issuer: its did:web, the profile its credentials name, and its keys (active first)."""

    did: str
    name: str
    url: str
    email: str
    image_url: str
    description: str
    keys: list[IssuerKeyOut]


class IssuerProfileIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    url: HttpUrl = ""
    email: Email = ""
    image_url: ImageUrl = ""
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class AdminCredentialOut(msgspec.Struct):
    """One credential of the org as staff see it."""

    id: UUID
    course_id: UUID
    course_title: str
    user_id: UUID
    learner_name: str
    learner_email: str
    issued_at: datetime
    status: str  # active | revoked
    revoked_at: datetime | None
    revocation_reason: str


class RevokeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


CredentialStatusFilter = Literal["active", "revoked"]


class VerifyCheck(msgspec.Struct):
    check: str  # format, signature, claims, schema, issuer, validity, status
    passed: bool
    detail: str


class VerifyOut(msgspec.Struct):
    verified: bool
    checks: list[VerifyCheck]


# The verify body is read by hand (any JSON object is accepted and judged by the checks); this struct only
# documents it in OpenAPI.
class VerifyIn(msgspec.Struct):
    credential: dict[str, Any] | None = None
    jwt: str | None = None
