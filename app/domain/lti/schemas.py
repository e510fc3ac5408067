"""Request and response schemas of the LTI launch (msgspec), and what the launch keeps in Redis."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

TargetKind = Literal["item", "course", "deep_link", "home"]


class LtiSessionRequest(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


class LtiSessionUser(msgspec.Struct):
    id: UUID
    name: str
    role: str


class LtiSessionPlatform(msgspec.Struct):
    id: UUID
    name: str


class LtiSessionTarget(msgspec.Struct):
    kind: TargetKind
    course_id: UUID | None = None
    item_id: UUID | None = None
    deep_link_id: str | None = None


class LtiSessionContext(msgspec.Struct):
    title: str = ""
    label: str = ""


class LtiSessionOut(msgspec.Struct):
    """A launch's session: the token pair (refresh token in the body: an iframe cannot rely on cookies) and
    what the web app needs to open the right page inside the LMS."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["bearer"]
    org: str  # the org's slug
    user: LtiSessionUser
    platform: LtiSessionPlatform
    target: LtiSessionTarget
    context: LtiSessionContext


class LoginState(msgspec.Struct):
    """``lti:state:<state>``: what the login initiation promised the launch (single use)."""

    platform_id: UUID
    org_id: UUID
    nonce: str
    target_link_uri: str
    storage_target: str | None = None


class LaunchGrant(msgspec.Struct):
    """``lti:code:<code>``: what a validated launch lets the web app's one exchange sign in as."""

    org_id: UUID
    user_id: UUID
    role: str
    platform_id: UUID
    platform_name: str
    target: LtiSessionTarget
    context: LtiSessionContext


class DeepLinkRequest(msgspec.Struct):
    """``lti:dl:<id>``: a deep-linking request's settings, for the picker and the signed response."""

    platform_id: UUID
    org_id: UUID
    user_id: UUID
    deployment_id: str
    return_url: str
    accept_types: list[str]
    accept_multiple: bool
    accept_lineitem: bool
    data: str | None = None
    title: str | None = None
    text: str | None = None
    accept_presentation_document_targets: list[str] = msgspec.field(default_factory=list)
