"""Request and response schemas of single sign-on (msgspec), and what the OIDC login keeps in Redis."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from app.domain.auth.schemas import RefreshMode

Protocol = Literal["oidc", "saml"]
RoleName = Literal["admin", "instructor", "learner"]
Domain = Annotated[str, msgspec.Meta(min_length=1, max_length=253, pattern=r"^@?[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")]
ClaimValue = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Scope = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+$")]


# --- the sign-in page --------------------------------------------------------------------------------------
class SsoProvider(msgspec.Struct):
    protocol: Protocol
    display_name: str
    login_url: str


class SsoProviders(msgspec.Struct):
    """``GET /v1/auth/sso/{org}``: the enabled providers an org offers (empty for an unknown org)."""

    providers: list[SsoProvider]
    sso_required: bool = False  # members must use one of them (admins may still use a password)


# --- the hand-off to the web app ----------------------------------------------------------------------------
class SsoSessionRequest(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
    refresh_mode: RefreshMode = "body"


class SsoSessionUser(msgspec.Struct):
    id: UUID
    name: str
    role: str


class SsoSessionOut(msgspec.Struct, omit_defaults=True):
    """A token pair like ``POST /v1/auth/login``'s (refresh token in the body, or in the session cookie with
    ``csrf_token`` here), plus who signed in and the page to open."""

    access_token: str
    expires_in: int
    token_type: Literal["bearer"]
    org: str
    user: SsoSessionUser
    protocol: Protocol
    return_to: str = "/"
    refresh_token: str | None = None
    csrf_token: str | None = None


class SsoGrant(msgspec.Struct):
    """``sso:code:<code>``: what a validated sign-in lets the web app's one exchange sign in as."""

    org_id: UUID
    user_id: UUID
    role: str
    protocol: Protocol
    return_to: str = "/"


class OidcLoginState(msgspec.Struct):
    """``sso:oidc:state:<state>``: what the login promised the callback (single use)."""

    org_id: UUID
    connection_id: UUID
    code_verifier: str
    nonce: str
    redirect_uri: str
    return_to: str = "/"


# --- administration ---------------------------------------------------------------------------------------
class OidcConnectionIn(msgspec.Struct, forbid_unknown_fields=True):
    """``PUT /v1/admin/sso/oidc``. ``client_secret``: omitted or null keeps the stored one, "" removes it
    (a public client), anything else replaces it; it is never returned."""

    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    issuer: Annotated[str, msgspec.Meta(min_length=8, max_length=1000)]
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    client_secret: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    enabled: bool = True
    allowed_domains: Annotated[list[Domain], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)
    role_claim: Annotated[str, msgspec.Meta(max_length=200)] = ""
    role_mapping: dict[ClaimValue, RoleName] = msgspec.field(default_factory=dict)
    default_role: RoleName = "learner"
    scopes: Annotated[list[Scope], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=lambda: ["openid", "email", "profile"]
    )


class OidcConnectionOut(msgspec.Struct):
    id: UUID
    display_name: str
    issuer: str
    client_id: str
    has_client_secret: bool
    enabled: bool
    allowed_domains: list[str]
    role_claim: str
    role_mapping: dict[str, str]
    default_role: str
    scopes: list[str]
    redirect_uri: str  # what to register at the provider
    login_url: str
    updated_at: datetime


class SsoSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``GET/PUT /v1/admin/sso/settings``: members must sign in through SSO (admins keep their password)."""

    sso_required: bool
