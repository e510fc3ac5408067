"""API shapes of SAML single sign-on: the org admin's connection (``/v1/admin/sso/saml``) and what a sign-in keeps
in Redis between the AuthnRequest and the ACS. The one-time code the ACS hands the web app is the shared
hand-off's ``SsoGrant`` (app/domain/sso/schemas.py), exchanged at ``POST /v1/sso/session``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from app.lib.roles import Role

DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
MetadataUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
MetadataXml = Annotated[str, msgspec.Meta(min_length=1, max_length=1024 * 1024)]
Domain = Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
AttributeName = Annotated[str, msgspec.Meta(max_length=200)]
MappingKey = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ClockSkew = Annotated[int, msgspec.Meta(ge=0, le=300)]


class SamlConnectionIn(msgspec.Struct, forbid_unknown_fields=True):
    """The org's SAML IdP as its admin enters it. Exactly one of ``idp_metadata_url`` (fetched now, over https)
    and ``idp_metadata_xml`` (uploaded) when first configured; both left out keeps the stored metadata.

    The last four fields are optional additions (stored in the connection's ``extra``): which attributes hold the
    email and the display name (else the usual OIDs/claim URIs, then an email-format NameID), whether the IdP's
    emails count as verified (linking to an existing account needs it; off unless the admin vouches for the IdP),
    and the clock skew allowed on NotBefore/NotOnOrAfter."""

    display_name: DisplayName
    enabled: bool = True
    idp_metadata_url: MetadataUrl | None = None
    idp_metadata_xml: MetadataXml | None = None
    allowed_domains: Annotated[list[Domain], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)
    role_claim: AttributeName = ""
    role_mapping: Annotated[dict[MappingKey, Role], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=dict)
    default_role: Role = "learner"
    email_attribute: AttributeName = ""
    name_attribute: AttributeName = ""
    email_verified: bool = False
    clock_skew_seconds: ClockSkew = 120


class SamlConnectionOut(msgspec.Struct):
    """The connection (``configured`` false and defaults before the first PUT) and what the admin gives their
    IdP: our entity id, ACS URL and metadata URL."""

    configured: bool
    sp_entity_id: str
    acs_url: str
    metadata_url: str
    display_name: str = ""
    enabled: bool = False
    idp_metadata_url: str = ""
    idp_metadata_xml: str = ""
    idp_entity_id: str = ""
    idp_sso_url: str = ""
    idp_certificate_expires_at: datetime | None = None
    allowed_domains: list[str] = msgspec.field(default_factory=list)
    role_claim: str = ""
    role_mapping: dict[str, str] = msgspec.field(default_factory=dict)
    default_role: str = "learner"
    email_attribute: str = ""
    name_attribute: str = ""
    email_verified: bool = False
    clock_skew_seconds: int = 120
    updated_at: datetime | None = None


class PendingRequest(msgspec.Struct):
    """``sso:saml:request:<id>``: an AuthnRequest we issued (single use), whose it is and where to go after."""

    org_id: UUID
    connection_id: UUID
    return_to: str = "/"
