"""API shapes of the LTI administration: platform registrations, dynamic-registration invitations and the
tool's own URLs (what an admin pastes into an LMS)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

# Shapes only; the scheme, host and (without LYCEUM_LTI_ALLOW_PRIVATE) https are checked by the service with
# app/lib/lti/http.py check_url_shape, which answers why a URL is refused.
PlatformUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
Issuer = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
DeploymentId = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
DeploymentIds = Annotated[list[DeploymentId], msgspec.Meta(max_length=100)]
PlatformName = Annotated[str, msgspec.Meta(max_length=200)]
# Origins of the LMS pages that frame Lyceum when they are neither the issuer's nor the login URL's (Canvas
# Cloud: the school's own https://<school>.instructure.com); added to the web app's CSP frame-ancestors.
FrameOrigins = Annotated[list[PlatformUrl], msgspec.Meta(max_length=20)]


class PlatformIn(msgspec.Struct, forbid_unknown_fields=True):
    """A platform registration as an admin enters it (the values the LMS shows for the tool)."""

    issuer: Issuer
    client_id: ClientId
    auth_login_url: PlatformUrl
    auth_token_url: PlatformUrl
    key_set_url: PlatformUrl
    deployment_ids: DeploymentIds
    name: PlatformName = ""
    frame_origins: FrameOrigins = msgspec.field(default_factory=list)


class PlatformUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A partial change: fields left out stay as they are."""

    issuer: Issuer | None = None
    client_id: ClientId | None = None
    auth_login_url: PlatformUrl | None = None
    auth_token_url: PlatformUrl | None = None
    key_set_url: PlatformUrl | None = None
    deployment_ids: DeploymentIds | None = None
    name: PlatformName | None = None
    frame_origins: FrameOrigins | None = None


class PlatformOut(msgspec.Struct):
    id: UUID
    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    deployment_ids: list[str]
    registered_by: Literal["admin", "dynamic"]
    frame_origins: list[str]
    created_at: datetime
    updated_at: datetime


class RegistrationInviteOut(msgspec.Struct):
    """A one-time dynamic-registration link to paste into an LMS (valid until ``expires_at``)."""

    url: str
    expires_at: datetime


class ToolUrlsOut(msgspec.Struct):
    """The tool's endpoints as an LMS asks for them when Lyceum is added by hand."""

    login_url: str  # OIDC third-party login initiation
    launch_url: str  # redirect URI / target link URI
    jwks_url: str  # the tool's public keys
    registration_url: str  # dynamic registration (needs an invitation's ?invite=)
    deep_linking_url: str  # where deep-linking requests land (the launch URL)
    domain: str
