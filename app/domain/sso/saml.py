"""SAML 2.0 sign-in for an org (issue 16 §2): the AuthnRequest, the ACS and SP metadata.

The sequence (docs/sso.md, SAML):
1. ``GET /v1/auth/sso/{org}/saml/login``: an AuthnRequest (HTTP-Redirect binding) to the IdP from the org's
   connection; its id is kept in Redis (single use, ``REQUEST_TTL_SECONDS``) with the org and where to go after.
2. ``POST /v1/auth/sso/{org}/saml/acs`` (HTTP-POST binding): the request id the Response answers is taken from
   Redis (GETDEL: whatever follows, it cannot answer twice), then every check of app/lib/saml/sp.py, then the
   assertion id goes into the replay cache until the assertion's own expiry (SET NX). The assertion becomes an
   ``ExternalIdentity`` and ``ensure_sso_user`` provisions or links the user in a transaction of the org.
3. The shared SSO hand-off (app/domain/sso/handoff.py) takes over: the grant (``protocol: "saml"``) goes under a
   one-time code and the browser to the web app's ``/sso/complete?code=…`` (never a token in a URL); the web app
   exchanges the code once at ``POST /v1/sso/session``, the same exchange OIDC uses, for the JWT + rotating
   refresh pair a password login gets (``AuthService.sign_in_federated``, audited as ``sso.saml``).

Every refusal is a ``SamlRefused`` (a 4xx page with a stable code, logged with the reason); none creates a session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from uuid import UUID

import msgspec
import structlog
from redis.asyncio import Redis
from sqlalchemy import select, text

from app.config import Settings
from app.db.engine import Database
from app.db.models import SsoConnection
from app.domain.sso.handoff import issue_code, safe_return_path
from app.domain.sso.provisioning import ExternalIdentity, ensure_sso_user
from app.domain.sso.saml_schemas import PendingRequest
from app.domain.sso.schemas import SsoGrant
from app.lib.errors import LyceumError
from app.lib.saml import sp as saml_sp
from app.lib.saml.metadata import IdpMetadata, MetadataError, parse_idp_metadata

REQUEST_TTL_SECONDS = 600  # an AuthnRequest answers within this (the user may have to sign in at the IdP)
DEFAULT_CLOCK_SKEW_SECONDS = 120

# Where IdPs put the email and name when the admin names no attribute: the plain names (Keycloak, Google
# Workspace as configured in docs/sso.md), the eduPerson/LDAP OIDs, and the WS-Fed claim URIs (Entra ID, ADFS).
EMAIL_ATTRIBUTES = (
    "email",
    "mail",
    "emailAddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)
NAME_ATTRIBUTES = (
    "name",
    "displayName",
    "urn:oid:2.16.840.1.113730.3.1.241",
    "http://schemas.microsoft.com/identity/claims/displayname",
)
GIVEN_NAME_ATTRIBUTES = (
    "firstName",
    "givenName",
    "urn:oid:2.5.4.42",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
)
SURNAME_ATTRIBUTES = (
    "lastName",
    "sn",
    "surname",
    "urn:oid:2.5.4.4",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
)

log = structlog.get_logger("lyceum.sso.saml")


class SamlRefused(Exception):
    """A refused sign-in step: shown as an error page with ``status`` (4xx), logged with ``code``."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status


def service_provider(settings: Settings, org_slug: str) -> saml_sp.ServiceProvider:
    """Our SP for the org: one entity id per org (an IdP app per org), named by its metadata URL (a common
    convention: an admin can paste it as the entity id and the IdP can fetch it)."""
    base = f"{settings.base_url}/v1/auth/sso/{org_slug}/saml"
    return saml_sp.ServiceProvider(entity_id=f"{base}/metadata", acs_url=f"{base}/acs")


def clock_skew(connection: SsoConnection) -> int:
    value = (connection.extra or {}).get("clock_skew_seconds", DEFAULT_CLOCK_SKEW_SECONDS)
    return (
        value if isinstance(value, int) and 0 <= value <= saml_sp.MAX_CLOCK_SKEW_SECONDS else DEFAULT_CLOCK_SKEW_SECONDS
    )


def _first(attributes: Mapping[str, list[str]], names: tuple[str, ...]) -> str:
    lowered = {key.lower(): values for key, values in attributes.items()}
    for name in names:
        for value in lowered.get(name.lower(), []):
            if value.strip():
                return value.strip()
    return ""


def external_identity(connection: SsoConnection, assertion: saml_sp.ValidatedAssertion) -> ExternalIdentity:
    """The person the assertion names: NameID as the subject; email from the configured attribute, a usual one, or
    an email-format NameID; verified only when the admin said the IdP's emails are (``extra.email_verified``)."""
    extra = connection.extra or {}
    attributes = assertion.attributes
    email_attribute = str(extra.get("email_attribute") or "")
    email = _first(attributes, (email_attribute,) if email_attribute else EMAIL_ATTRIBUTES)
    if not email and assertion.name_id_format == saml_sp.EMAIL_NAMEID:
        email = assertion.name_id
    name_attribute = str(extra.get("name_attribute") or "")
    name = _first(attributes, (name_attribute,) if name_attribute else NAME_ATTRIBUTES)
    if not name:
        name = " ".join(
            p for p in (_first(attributes, GIVEN_NAME_ATTRIBUTES), _first(attributes, SURNAME_ATTRIBUTES)) if p
        )
    role_values: tuple[str, ...] = ()
    if connection.role_claim:
        exact = attributes.get(connection.role_claim)
        values = (
            exact
            if exact is not None
            else next((v for k, v in attributes.items() if k.lower() == connection.role_claim.lower()), [])
        )
        role_values = tuple(v.strip() for v in values if v.strip())
    return ExternalIdentity(
        subject=assertion.name_id,
        email=email[:320],
        email_verified=bool(extra.get("email_verified", False)),
        name=name[:200],
        role_values=role_values,
    )


@dataclass(eq=False)
class SamlSignInService:
    """Acts before anyone is signed in: holds the unscoped database and opens the org's transactions itself."""

    db: Database
    redis: Redis
    request_id: str = ""
    _: KW_ONLY
    settings: Settings

    def _key(self, *parts: str) -> str:
        return f"{self.settings.redis_key_prefix}sso:saml:{':'.join(parts)}"

    async def _org_id(self, org_slug: str) -> UUID:
        if len(org_slug) > 63:
            raise SamlRefused("unknown_org", "there is no organization with this name", 404)
        async with self.db.transaction(None) as session:
            org_id = await session.scalar(text("select lyceum_org_id_for_slug(:slug)"), {"slug": org_slug})
        if org_id is None:
            raise SamlRefused("unknown_org", "there is no organization with this name", 404)
        return UUID(str(org_id))

    async def _connection(self, org_id: UUID) -> SsoConnection:
        """The org's enabled SAML connection with usable metadata (detached), or a refusal saying which is missing."""
        async with self.db.transaction(org_id) as session:
            connection = await session.scalar(select(SsoConnection).where(SsoConnection.protocol == "saml"))
            if connection is not None:
                session.expunge(connection)
        if connection is None:
            raise SamlRefused("not_configured", "this organization has not set up SAML single sign-on", 404)
        if not connection.enabled:
            raise SamlRefused("disabled", "SAML single sign-on is turned off for this organization", 403)
        return connection

    @staticmethod
    def _idp(connection: SsoConnection) -> IdpMetadata:
        try:
            return parse_idp_metadata(connection.idp_metadata_xml)
        except MetadataError as exc:  # validated on save; only a hand-edited row gets here
            raise SamlRefused("bad_metadata", f"the identity provider's metadata is unusable: {exc}", 409) from exc

    # --- SP metadata ------------------------------------------------------------------------------------
    async def metadata(self, org_slug: str) -> str:
        """Published for every org (an admin needs it before the IdP exists): entity id, ACS, POST binding."""
        await self._org_id(org_slug)
        try:
            return service_provider(self.settings, org_slug).metadata_xml()
        except saml_sp.SamlError as exc:
            raise SamlRefused(exc.code, exc.detail, 409) from exc

    # --- 1. AuthnRequest --------------------------------------------------------------------------------
    async def login(self, org_slug: str, next_path: str | None) -> str:
        org_id = await self._org_id(org_slug)
        connection = await self._connection(org_id)
        idp = self._idp(connection)
        try:
            request_id, url = service_provider(self.settings, org_slug).authn_request(idp)
        except saml_sp.SamlError as exc:
            raise SamlRefused(exc.code, exc.detail, 409) from exc
        pending = PendingRequest(org_id=org_id, connection_id=connection.id, return_to=safe_return_path(next_path))
        await self.redis.set(self._key("request", request_id), msgspec.json.encode(pending), ex=REQUEST_TTL_SECONDS)
        log.info("saml_login", org_id=str(org_id), connection_id=str(connection.id))
        return url

    # --- 2. ACS ------------------------------------------------------------------------------------------
    async def acs(self, org_slug: str, form: Mapping[str, str]) -> str:
        """Validate the posted Response; the web app URL carrying the one-time code, or SamlRefused."""
        org_id = await self._org_id(org_slug)
        saml_response = form.get("SAMLResponse") or ""
        try:
            answered = saml_sp.in_response_to(saml_response)
        except saml_sp.SamlError as exc:
            raise SamlRefused(exc.code, exc.detail) from exc
        if not answered or len(answered) > 200:
            raise SamlRefused(
                "unsolicited",
                "this response does not answer a sign-in started here (IdP-initiated "
                "sign-in is not supported: start from Lyceum's sign-in page)",
            )
        raw = await self.redis.getdel(self._key("request", answered))  # single use, whatever follows
        if raw is None:
            raise SamlRefused(
                "unknown_request",
                "this response answers a sign-in that is unknown, expired or already used; sign in again",
            )
        pending = msgspec.json.decode(raw, type=PendingRequest)
        if pending.org_id != org_id:
            raise SamlRefused("unknown_request", "this response answers a sign-in of another organization")
        connection = await self._connection(org_id)
        if connection.id != pending.connection_id:
            raise SamlRefused("unknown_request", "the organization's SAML connection changed during this sign-in")
        sp = service_provider(self.settings, org_slug)
        try:
            assertion = saml_sp.validate(
                sp, self._idp(connection), saml_response, request_id=answered, clock_skew_seconds=clock_skew(connection)
            )
        except saml_sp.SamlError as exc:
            raise SamlRefused(exc.code, exc.detail) from exc
        # Kept until the assertion could no longer be accepted anyway: the same assertion never signs in twice.
        lifetime = max(1, int((assertion.not_on_or_after - datetime.now(UTC)).total_seconds()) + 1)
        fresh = await self.redis.set(
            self._key("assertion", str(connection.id), assertion.assertion_id), "1", nx=True, ex=lifetime
        )
        if not fresh:
            raise SamlRefused("replayed", "this assertion was already used to sign in")
        if assertion.name_id_format == saml_sp.TRANSIENT_NAMEID:
            # A new subject at every sign-in: each would be a new identity (a new account, or a refused link).
            raise SamlRefused(
                "transient_nameid",
                "the identity provider sends a transient NameID; configure it to "
                "send a persistent or email-address NameID",
            )
        if not assertion.name_id or len(assertion.name_id) > 500:
            raise SamlRefused("bad_nameid", "the assertion's NameID is missing or longer than 500 characters")
        identity = external_identity(connection, assertion)
        try:
            async with self.db.transaction(org_id) as session:
                attached = await session.merge(connection, load=False)
                user = await ensure_sso_user(session, attached, identity, request_id=self.request_id)
        except LyceumError as exc:  # SsoNotAllowed (403), Conflict (409): the reason is the message
            raise SamlRefused(exc.slug, exc.detail.rstrip("."), exc.status) from exc
        grant = SsoGrant(
            org_id=org_id, user_id=user.user_id, role=user.role, protocol="saml", return_to=pending.return_to
        )
        next_url = await issue_code(self.redis, self.settings, grant)  # the shared hand-off (handoff.py)
        log.info(
            "saml_signed_in",
            org_id=str(org_id),
            user_id=str(user.user_id),
            created=user.created,
            linked=user.linked,
            role=user.role,
        )
        return next_url
