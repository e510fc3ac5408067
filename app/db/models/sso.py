"""Single sign-on (issue 16): an org's identity-provider connections and the outside identities they vouched for.

One connection per org and protocol (``oidc`` or ``saml``): the contract routes name the org, not a connection
(``GET /v1/auth/sso/{org}/login``). Secrets (the OIDC client secret) are sealed like every other secret
(``app.lib.sealing``); IdP metadata and certificates are public and stored as they came. An identity
(``sso_identities``) ties the provider's stable subject (OIDC ``sub``, SAML NameID) to the Lyceum user it was
provisioned as or linked to (linking by verified email only: docs/sso.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

SSO_PROTOCOLS = ("oidc", "saml")


class SsoConnection(OrgScoped, Base):
    """An org's OIDC or SAML identity provider, configured by the org's admin."""

    __tablename__ = "sso_connections"
    __table_args__ = (
        Index("uq_sso_connections_org_protocol", "org_id", "protocol", unique=True),
        CheckConstraint("protocol in ('oidc', 'saml')", name="protocol_known"),
    )

    protocol: Mapped[str] = mapped_column(String(10))
    # Shown on the sign-in page: "Sign in with <display_name>".
    display_name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # OIDC: the issuer URL (discovery at <issuer>/.well-known/openid-configuration), client id, sealed secret.
    issuer: Mapped[str] = mapped_column(String(1000), default="")
    client_id: Mapped[str] = mapped_column(String(500), default="")
    client_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # SAML: the IdP's metadata as uploaded or as last fetched from ``idp_metadata_url``.
    idp_metadata_url: Mapped[str] = mapped_column(String(1000), default="")
    idp_metadata_xml: Mapped[str] = mapped_column(Text, default="")
    # Who may come in: email domains (empty list: any), and which role a claim/attribute value maps to.
    allowed_domains: Mapped[list[str]] = mapped_column(JsonB, default=list)
    role_claim: Mapped[str] = mapped_column(String(200), default="")
    role_mapping: Mapped[dict[str, str]] = mapped_column(JsonB, default=dict)
    default_role: Mapped[str] = mapped_column(String(20), default="learner")
    # Protocol details that need no column of their own (scopes, clock skew, attribute names).
    extra: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)


class SsoIdentity(OrgScoped, Base):
    """An identity at one connection's provider (its stable subject) and the Lyceum user it signs in as."""

    __tablename__ = "sso_identities"
    __table_args__ = (Index("uq_sso_identities_connection_subject", "connection_id", "subject", unique=True),)

    connection_id: Mapped[UUID] = mapped_column(ForeignKey("sso_connections.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
