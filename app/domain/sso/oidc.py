"""OIDC single sign-on per org: the authorization code flow with PKCE (S256), state and nonce (docs/sso.md).

1. ``login``: the org's enabled OIDC connection, its provider's discovery document (cached), a fresh
   state, nonce and PKCE verifier kept in Redis (single use, ``LYCEUM_SSO_STATE_TTL_SECONDS``) bound to the
   org, the connection and a safe return path; the browser goes to the provider (authlib builds the URL).
2. ``callback``: the state is consumed (GETDEL) whatever follows, must belong to this org and connection;
   the code is redeemed at the token endpoint with the verifier (authlib's httpx ``AsyncOAuth2Client``);
   the ID token is validated (app/domain/sso/oidc_token.py: signature by the provider's JWKS, iss, aud,
   azp, exp/iat with leeway, the nonce this login issued); then ``ensure_sso_user`` provisions or links
   the user in a transaction of the org, and a one-time code hands the session to the web app
   (app/domain/sso/handoff.py).

Every refusal is an ``SsoRefused`` (a 4xx page with a stable code, logged); none creates a session.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx2
import msgspec
import structlog
from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from redis.asyncio import Redis
from sqlalchemy import select, text

from app.config import Settings
from app.db.engine import Database
from app.db.models import Organization, SsoConnection
from app.domain.sso.handoff import issue_code, safe_return_path
from app.domain.sso.oidc_http import OidcMetadata, ProviderUnavailable, provider_client
from app.domain.sso.oidc_token import Expected, IdTokenRefused, validate_id_token
from app.domain.sso.provisioning import ExternalIdentity, SsoNotAllowed, ensure_sso_user
from app.domain.sso.schemas import OidcLoginState, SsoGrant, SsoProvider, SsoProviders
from app.lib.errors import LyceumError
from app.lib.lti.http import MAX_RESPONSE_BYTES
from app.lib.sealing import key_encryption_key, unseal

DEFAULT_SCOPES = ("openid", "email", "profile")
MAX_PARAM_CHARS = 4096


def _log() -> structlog.stdlib.BoundLogger:
    return structlog.get_logger("lyceum.sso")  # type: ignore[no-any-return]


class SsoRefused(Exception):
    """A refused login or callback: an error page with ``status`` (4xx), logged with ``code``."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status


def secret_aad(connection_id: UUID) -> bytes:
    """The sealed client secret opens on its own row only."""
    return f"sso_connection:{connection_id}:client_secret".encode()


def claim_values(claims: Mapping[str, Any], path: str) -> tuple[str, ...]:
    """The string values of a claim, by name or by a dotted path into nested objects (Keycloak's
    ``realm_access.roles``); a name containing dots that exists as such wins (``https://x.org/roles``)."""
    if not path:
        return ()
    value: Any = claims.get(path)
    if value is None and "." in path:
        value = claims
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))[:100]
    return ()


def _verified(value: Any) -> bool:
    # Some providers send the boolean as a string ("true"); anything else is unverified.
    return value is True or (isinstance(value, str) and value.lower() == "true")


def login_path(org_slug: str) -> str:
    return f"/v1/auth/sso/{quote(org_slug)}/login"


def callback_url(settings: Settings, org_slug: str) -> str:
    return f"{settings.base_url}/v1/auth/sso/{quote(org_slug)}/callback"


@dataclass(eq=False)
class OidcService:
    """Acts before anyone is signed in: holds the unscoped database and opens the org's transactions itself."""

    db: Database
    redis: Redis
    request_id: str = ""
    _: KW_ONLY
    settings: Settings
    metadata: OidcMetadata

    def _state_key(self, state: str) -> str:
        return f"{self.settings.redis_key_prefix}sso:oidc:state:{state}"

    async def _org_id(self, org_slug: str) -> UUID | None:
        async with self.db.transaction(None) as session:
            org_id = await session.scalar(text("select lyceum_org_id_for_slug(:slug)"), {"slug": org_slug})
        return UUID(str(org_id)) if org_id is not None else None

    async def providers(self, org_slug: str) -> SsoProviders:
        """The enabled providers of the org, for the sign-in page (an unknown org has none)."""
        org_id = await self._org_id(org_slug)
        if org_id is None:
            return SsoProviders(providers=[])
        async with self.db.transaction(org_id) as session:
            rows = (
                await session.scalars(
                    select(SsoConnection).where(SsoConnection.enabled.is_(True)).order_by(SsoConnection.protocol)
                )
            ).all()
            required = bool(await session.scalar(select(Organization.sso_required).where(Organization.id == org_id)))
        slug = quote(org_slug)
        return SsoProviders(
            providers=[
                SsoProvider(
                    protocol="oidc" if row.protocol == "oidc" else "saml",
                    display_name=row.display_name,
                    login_url=login_path(org_slug) if row.protocol == "oidc" else f"/v1/auth/sso/{slug}/saml/login",
                )
                for row in rows
            ],
            sso_required=required,
        )

    async def _connection(self, org_id: UUID, connection_id: UUID | None = None) -> SsoConnection:
        async with self.db.transaction(org_id) as session:
            query = select(SsoConnection).where(SsoConnection.protocol == "oidc")
            connection = await session.scalar(query)
            if connection is not None:
                session.expunge(connection)
        if connection is None or (connection_id is not None and connection.id != connection_id):
            raise SsoRefused("no_connection", "this organization has no OIDC sign-in configured", 404)
        if not connection.enabled:
            raise SsoRefused("connection_disabled", "single sign-on is turned off for this organization", 403)
        return connection

    async def _discovery(self, connection: SsoConnection) -> dict[str, Any]:
        try:
            return await self.metadata.discovery(connection.issuer)
        except ProviderUnavailable as exc:
            raise SsoRefused(f"provider_{exc.code}", f"the identity provider cannot be used: {exc.detail}") from exc

    def _client(self, connection: SsoConnection, discovery: Mapping[str, Any], redirect_uri: str) -> AsyncOAuth2Client:
        secret: str | None = None
        if connection.client_secret_sealed:
            try:
                secret = unseal(
                    connection.client_secret_sealed, key_encryption_key(self.settings), secret_aad(connection.id)
                ).decode()
            except ValueError as exc:
                raise SsoRefused(
                    "secret_unreadable", "the stored client secret cannot be opened; save it again"
                ) from exc
        methods = discovery.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if secret is None:
            auth_method = "none"
        elif "client_secret_basic" in methods:
            auth_method = "client_secret_basic"
        else:
            auth_method = "client_secret_post"
        scopes = connection.extra.get("scopes") if isinstance(connection.extra, dict) else None
        scope_list = [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else list(DEFAULT_SCOPES)
        if "openid" not in scope_list:
            scope_list.insert(0, "openid")
        return AsyncOAuth2Client(
            client_id=connection.client_id,
            client_secret=secret,
            token_endpoint_auth_method=auth_method,
            scope=" ".join(scope_list),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            **provider_client(self.settings),
        )

    # --- 1. login -----------------------------------------------------------------------------------------
    async def login(self, org_slug: str, return_to: str | None) -> str:
        org_id = await self._org_id(org_slug)
        if org_id is None:
            raise SsoRefused("unknown_org", "there is no organization with this name", 404)
        connection = await self._connection(org_id)
        discovery = await self._discovery(connection)
        redirect_uri = callback_url(self.settings, org_slug)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters: within RFC 7636's 43..128
        entry = OidcLoginState(
            org_id=org_id,
            connection_id=connection.id,
            code_verifier=verifier,
            nonce=nonce,
            redirect_uri=redirect_uri,
            return_to=safe_return_path(return_to),
        )
        await self.redis.set(self._state_key(state), msgspec.json.encode(entry), ex=self.settings.sso_state_ttl_seconds)
        async with self._client(connection, discovery, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                discovery["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        _log().info("sso_oidc_login", org_id=str(org_id), connection_id=str(connection.id))
        return str(url)

    # --- 2. callback --------------------------------------------------------------------------------------
    async def callback(self, org_slug: str, params: Mapping[str, str]) -> str:
        """The web app URL (with a one-time code) to send the browser to."""
        for name, value in params.items():
            if len(value) > MAX_PARAM_CHARS:
                raise SsoRefused("bad_parameter", f"the '{name[:50]}' parameter is too long")
        state = params.get("state") or ""
        if params.get("error"):  # the provider refused (the user cancelled, or the client is misconfigured)
            if state and len(state) <= 200:
                await self.redis.delete(self._state_key(state))
            description = params.get("error_description") or params["error"]
            raise SsoRefused("provider_error", f"the identity provider answered: {description[:200]}", 401)
        code = params.get("code") or ""
        if not code or not state:
            raise SsoRefused("missing_parameter", "the callback needs both 'code' and 'state'")
        if len(state) > 200:
            raise SsoRefused("state_unknown", "this sign-in's state is unknown, expired or already used")
        raw = await self.redis.getdel(self._state_key(state))  # single use, whatever follows
        if raw is None:
            raise SsoRefused("state_unknown", "this sign-in's state is unknown, expired or already used")
        login = msgspec.json.decode(raw, type=OidcLoginState)
        org_id = await self._org_id(org_slug)
        if org_id is None or org_id != login.org_id:
            raise SsoRefused("state_mismatch", "this sign-in was started for another organization")
        connection = await self._connection(org_id, login.connection_id)
        discovery = await self._discovery(connection)
        claims = await self._redeem(connection, discovery, login, code)
        identity = ExternalIdentity(
            subject=str(claims["sub"]),
            email=claims["email"] if isinstance(claims.get("email"), str) else "",
            email_verified=_verified(claims.get("email_verified")),
            name=claims["name"][:200] if isinstance(claims.get("name"), str) else "",
            role_values=claim_values(claims, connection.role_claim),
        )
        try:
            async with self.db.transaction(org_id) as session:
                row = await session.get(SsoConnection, connection.id)
                if row is None:
                    raise SsoRefused("no_connection", "this organization has no OIDC sign-in configured", 404)
                user = await ensure_sso_user(session, row, identity, request_id=self.request_id)
        except (SsoNotAllowed, LyceumError) as exc:
            if isinstance(exc, SsoRefused):
                raise
            code_name = "not_allowed" if isinstance(exc, SsoNotAllowed) else exc.slug
            raise SsoRefused(code_name, exc.detail or exc.title, exc.status) from exc
        grant = SsoGrant(
            org_id=org_id, user_id=user.user_id, role=user.role, protocol="oidc", return_to=login.return_to
        )
        _log().info(
            "sso_oidc_signed_in",
            org_id=str(org_id),
            user_id=str(user.user_id),
            created=user.created,
            linked=user.linked,
            role=user.role,
        )
        return await issue_code(self.redis, self.settings, grant)

    async def _redeem(
        self, connection: SsoConnection, discovery: Mapping[str, Any], login: OidcLoginState, code: str
    ) -> dict[str, Any]:
        """The code, redeemed with the PKCE verifier; the ID token, validated; userinfo when the ID token
        leaves the email out (some providers keep ID tokens thin)."""
        async with self._client(connection, discovery, login.redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    discovery["token_endpoint"], code=code, code_verifier=login.code_verifier
                )
            except OAuthError as exc:
                raise SsoRefused(
                    "token_refused", f"the identity provider refused the code ({exc.error or 'error'})", 401
                ) from exc
            except (httpx2.HTTPError, httpx2.InvalidURL, ProviderUnavailable, ValueError, UnicodeError) as exc:
                raise SsoRefused("token_failed", f"the identity provider's token endpoint failed ({exc})") from exc
            id_token = token.get("id_token") if isinstance(token, dict) else None
            if not isinstance(id_token, str) or not id_token:
                raise SsoRefused("no_id_token", "the identity provider answered without an ID token")
            jwks_uri = str(discovery["jwks_uri"])

            async def keys(refresh: bool) -> Any:
                try:
                    return await self.metadata.key_set(jwks_uri, refresh=refresh)
                except ProviderUnavailable as exc:
                    raise IdTokenRefused("jwks_unavailable", exc.detail) from exc

            expected = Expected(
                issuer=connection.issuer,
                client_id=connection.client_id,
                nonce=login.nonce,
                now=int(time.time()),
                leeway=self.settings.sso_clock_leeway_seconds,
            )
            try:
                claims = await validate_id_token(id_token, expected, keys)
            except IdTokenRefused as exc:
                raise SsoRefused(exc.code, exc.detail) from exc
            if "email" not in claims and isinstance(discovery.get("userinfo_endpoint"), str):
                claims = {**await self._userinfo(client, str(discovery["userinfo_endpoint"]), claims), **claims}
        return claims

    async def _userinfo(self, client: AsyncOAuth2Client, url: str, claims: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = await client.get(url, headers={"Accept": "application/json"})
            if response.status_code != 200 or len(response.content) > MAX_RESPONSE_BYTES:
                return {}
            info = response.json()
        except (httpx2.HTTPError, httpx2.InvalidURL, ProviderUnavailable, ValueError, UnicodeError, OAuthError):
            return {}
        # Core §5.3.2: the userinfo sub must be the ID token's, else the response is not about this user.
        if not isinstance(info, dict) or info.get("sub") != claims.get("sub"):
            return {}
        return {k: v for k, v in info.items() if k not in ("iss", "aud", "sub", "nonce", "exp", "iat", "azp")}
