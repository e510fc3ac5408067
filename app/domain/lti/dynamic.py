"""LTI Dynamic Registration 1.0 (the tool side): an LMS opens ``/lti/register`` with its
``openid_configuration`` URL and a ``registration_token``; the tool reads the platform's configuration,
posts its own client registration, stores the result as a platform registration and answers a page that
tells the LMS it is done (``postMessage({subject: "org.imsglobal.lti.close"})``).

Registration provisions admins into an org, so it is never open: the URL carries a one-time invitation
an org admin created (``lti:register:<token>``, 24 h); the registration lands in that org. The invitation
is taken (GETDEL) before any platform call, so two registrations cannot both use it; if the platform
fails before anything is stored it is put back for the rest of its life, so the admin can retry."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from redis.asyncio import Redis

from app.config import Settings
from app.db.engine import Database
from app.db.models import LtiPlatform
from app.domain.audit.services import record_audit
from app.domain.lti.registrations import (
    DUPLICATE,
    clean_fields,
    flush_unique,
    invite_key,
    registered_elsewhere,
    snapshot,
)
from app.lib.errors import Conflict, ValidationFailed
from app.lib.lti.http import PlatformHttp, PlatformHttpError, UnsafeUrl
from app.lib.lti.urls import tool_urls

log = structlog.get_logger("lyceum.lti.register")

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")


class RegistrationRefused(Exception):
    """Dynamic registration stops here; ``reason`` is shown to the LMS admin and logged."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class RegistrationOutcome:
    status: int
    title: str
    message: str
    done: bool = False  # tells the LMS to close the registration window


def tool_registration(settings: Settings) -> dict[str, Any]:
    """The client registration the tool posts (LTI Dynamic Registration 1.0 §3.5 / OIDC Dynamic Client
    Registration with the LTI tool configuration)."""
    urls = tool_urls(settings.base_url)
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": "Lyceum",
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIGURATION: {
            "domain": urls.domain,
            "description": "Lyceum: courses with an AI tutor, graded assessments and credentials",
            "target_link_uri": urls.launch,
            "claims": list(CLAIMS),
            "messages": [
                {"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch},
                {"type": "LtiDeepLinkingRequest", "target_link_uri": urls.launch, "label": "Add Lyceum content"},
            ],
        },
    }


def issuer_matches(configuration_url: str, issuer: str) -> bool:
    """The spec: the openid_configuration URL must start with the issuer (at a path boundary, so
    ``https://lms.example`` does not vouch for ``https://lms.example.evil``)."""
    base = issuer.rstrip("/")
    return configuration_url == base or configuration_url.startswith(base + "/")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


@dataclass(eq=False, repr=False, kw_only=True)
class DynamicRegistrationService:
    db: Database
    settings: Settings
    redis: Redis
    http: PlatformHttp  # the process's SSRF-guarded platform client (components.lti_http)
    request_id: str = ""

    async def register(
        self, invite: str | None, configuration_url: str | None, registration_token: str | None
    ) -> RegistrationOutcome:
        try:
            platform = await self._register(invite, configuration_url, registration_token)
        except RegistrationRefused as refused:
            log.warning("lti.register.refused", status=refused.status, reason=refused.reason)
            return RegistrationOutcome(refused.status, "Lyceum could not be registered", refused.reason)
        log.info("lti.register.done", platform_id=str(platform.id), issuer=platform.issuer)
        return RegistrationOutcome(
            200,
            "Lyceum is registered",
            f"Lyceum is now registered with {platform.name or platform.issuer}. You can close this window.",
            done=True,
        )

    async def _register(
        self, invite: str | None, configuration_url: str | None, registration_token: str | None
    ) -> LtiPlatform:
        if not invite:
            raise RegistrationRefused(
                400,
                "This registration link has no invitation. An administrator of your Lyceum organisation "
                "creates one (Admin, LMS platforms, Create registration link) and pastes that link here.",
            )
        if not configuration_url:
            raise RegistrationRefused(400, "The LMS did not send its openid_configuration URL.")
        key = invite_key(self.settings, invite)
        ttl = await self.redis.ttl(key)
        raw = await self.redis.getdel(key)
        if raw is None:
            raise RegistrationRefused(
                400, "This registration link is not valid: it was already used or has expired. Create a new one."
            )
        grant = json.loads(raw)
        try:
            return await self._with_invite(grant, configuration_url, registration_token)
        except RegistrationRefused as refused:
            if refused.status != 409 and ttl > 0:  # nothing stored: the admin may retry the same link
                await self.redis.set(key, raw, ex=ttl)
            raise

    async def _with_invite(
        self, grant: dict[str, Any], configuration_url: str, registration_token: str | None
    ) -> LtiPlatform:
        configuration = await self._configuration(self.http, configuration_url)
        endpoint = str(configuration["registration_endpoint"])
        headers = {"Accept": "application/json"}
        if registration_token:
            headers["Authorization"] = f"Bearer {registration_token}"
        try:
            response = await self.http.request("POST", endpoint, headers=headers, json=tool_registration(self.settings))
            client = response.json()
        except UnsafeUrl as exc:
            raise RegistrationRefused(400, f"The platform's registration endpoint is refused: {exc}") from exc
        except PlatformHttpError as exc:
            raise RegistrationRefused(400, f"The platform refused the tool's registration: {exc}") from exc
        except ValueError as exc:
            raise RegistrationRefused(400, "The platform's registration answer was not JSON.") from exc
        return await self._store(grant, configuration, client)

    async def _configuration(self, http: PlatformHttp, url: str) -> dict[str, Any]:
        try:
            configuration = await http.get_json(url)
        except UnsafeUrl as exc:
            raise RegistrationRefused(400, f"The openid_configuration URL is refused: {exc}") from exc
        except PlatformHttpError as exc:
            raise RegistrationRefused(400, f"The platform's openid-configuration could not be read: {exc}") from exc
        if not isinstance(configuration, dict):
            raise RegistrationRefused(400, "The platform's openid-configuration is not a JSON object.")
        issuer = _text(configuration.get("issuer"))
        if issuer is None or not issuer_matches(url, issuer):
            raise RegistrationRefused(
                400, "The platform's openid-configuration names an issuer its URL does not start with."
            )
        missing = [
            name
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
            if _text(configuration.get(name)) is None
        ]
        if missing:
            raise RegistrationRefused(400, f"The platform's openid-configuration lacks {', '.join(missing)}.")
        algorithms = configuration.get("id_token_signing_alg_values_supported")
        if isinstance(algorithms, list) and algorithms and "RS256" not in algorithms:
            raise RegistrationRefused(400, "The platform does not sign id_tokens with RS256, which LTI 1.3 requires.")
        return configuration

    async def _store(self, grant: dict[str, Any], configuration: dict[str, Any], client: Any) -> LtiPlatform:
        if not isinstance(client, dict) or _text(client.get("client_id")) is None:
            raise RegistrationRefused(400, "The platform's registration answer has no client_id.")
        tool_config = client.get(TOOL_CONFIGURATION)
        tool_config = tool_config if isinstance(tool_config, dict) else {}
        deployment = _text(tool_config.get("deployment_id"))
        platform_config = configuration.get(PLATFORM_CONFIGURATION)
        platform_config = platform_config if isinstance(platform_config, dict) else {}
        family = _text(platform_config.get("product_family_code")) or ""
        try:
            values = clean_fields(
                {
                    "issuer": configuration["issuer"],
                    "client_id": client["client_id"],
                    "auth_login_url": configuration["authorization_endpoint"],
                    "auth_token_url": configuration["token_endpoint"],
                    "key_set_url": configuration["jwks_uri"],
                    "deployment_ids": [deployment] if deployment else [],
                },
                allow_private=self.settings.lti_allow_private,
            )
        except ValidationFailed as exc:
            reasons = "; ".join(f"{e['pointer'][2:]}: {e['detail']}" for e in exc.errors)
            raise RegistrationRefused(400, f"The platform's configuration is refused ({reasons}).") from exc
        if any(len(values[n]) > limit for n, limit in (("issuer", 500), ("client_id", 500))) or any(
            len(values[n]) > 1000 for n in ("auth_login_url", "auth_token_url", "key_set_url")
        ):
            raise RegistrationRefused(400, "The platform's configuration has values too long to store.")
        name = f"{family} ({values['issuer']})" if family else values["issuer"]
        extra = {
            "product_family_code": family,
            "version": _text(platform_config.get("version")) or "",
            "registered_at": datetime.now(UTC).isoformat(),
            "client": {k: client[k] for k in ("client_id", "registration_client_uri") if k in client},
            "messages_supported": platform_config.get("messages_supported", []),
        }
        org_id, actor = UUID(grant["org_id"]), UUID(grant["created_by"])
        try:
            async with self.db.transaction(org_id, actor) as session:
                if await registered_elsewhere(session, values["issuer"], values["client_id"]):
                    raise Conflict(DUPLICATE)
                row = LtiPlatform(org_id=org_id, name=name[:200], registered_by="dynamic", extra=extra, **values)
                session.add(row)
                await flush_unique(session)
                record_audit(
                    session,
                    org_id=org_id,
                    actor_id=actor,  # the admin whose invitation this was
                    action="lti_platform.registered",
                    entity_type="lti_platform",
                    entity_id=row.id,
                    after=snapshot(row),
                    request_id=self.request_id,
                )
        except Conflict as exc:
            raise RegistrationRefused(409, f"{DUPLICATE}; nothing was changed.") from exc
        return row


def html_page(outcome: RegistrationOutcome) -> str:
    """The page the LMS shows in its registration window. On success it posts the spec's close message to
    whoever opened it (a popup's opener, or the iframe's parent); the message carries nothing secret."""
    script = ""
    if outcome.done:
        script = (
            '<script>(window.opener || window.parent).postMessage({subject: "org.imsglobal.lti.close"}, "*");</script>'
        )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(outcome.title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;"
        "line-height:1.5;color:#1f2933}h1{font-size:1.4rem}</style></head><body>"
        f"<main><h1>{html.escape(outcome.title)}</h1><p role=status>{html.escape(outcome.message)}</p></main>"
        f"{script}</body></html>"
    )
