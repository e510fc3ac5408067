"""LTI 1.3 launch: OIDC login initiation, the launch (id_token validation, provisioning) and the one-time
code the web app exchanges for a session. docs/lti.md (Launch) has the sequence and the checks in order.

Cookie-less by design: the state and nonce live in Redis (single use: GETDEL / SET NX), optionally mirrored
in the platform's postMessage storage; the web app gets a one-time code, never a token, in its URL.
Every refusal is a ``LaunchRefused`` (a 4xx page with a stable code, logged); none creates a session.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import UUID

import msgspec
import structlog
from redis.asyncio import Redis
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import Database
from app.db.models import Course, Item, LtiContext, LtiPlatform, Organization, User
from app.domain.auth.services import AuthService
from app.domain.lti.platform_keys import PlatformKeys
from app.domain.lti.provisioning import (
    LtiPerson,
    ensure_context,
    ensure_member,
    ensure_resource_link,
    ensure_user,
    set_enrollment,
)
from app.domain.lti.schemas import (
    DeepLinkRequest,
    LaunchGrant,
    LoginState,
    LtiSessionContext,
    LtiSessionOut,
    LtiSessionPlatform,
    LtiSessionTarget,
    LtiSessionUser,
)
from app.lib.errors import LyceumError
from app.lib.lti import claims as c
from app.lib.lti.deeplink import DEFAULT_SCORE_MAXIMUM as DEEP_LINK_SCORE_MAXIMUM
from app.lib.lti.idtoken import MAX_ID_TOKEN_BYTES, Expected, IdTokenError, LaunchClaims, validate_id_token
from app.lib.lti.roles import lyceum_role

log = structlog.get_logger("lyceum.lti")

DEEP_LINK_TTL_SECONDS = 3600
MAX_PARAM_CHARS = 4096  # login and message hints (Canvas sends a JWT), URIs: a few hundred characters usually
_STORAGE_TARGET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class LaunchRefused(Exception):
    """A refused login or launch: shown as an error page with ``status`` (4xx), logged with ``code``."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status


class LaunchCodeInvalid(LyceumError):
    status, slug, title = 400, "lti-launch-code", "This launch code is unknown, expired or already used"


@dataclass(frozen=True)
class LoginOutcome:
    auth_url: str
    storage_target: str | None
    state: str
    nonce: str
    platform_origin: str


@dataclass(frozen=True)
class LaunchOutcome:
    next_url: str
    storage_target: str | None
    state: str
    nonce: str
    platform_origin: str


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _param(params: Mapping[str, str], name: str, *, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise LaunchRefused("missing_parameter", f"the '{name}' parameter is missing")
        return None
    if len(value) > MAX_PARAM_CHARS:
        raise LaunchRefused("bad_parameter", f"the '{name}' parameter is too long")
    return value


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _url_or_none(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 1000:
        return value
    return None


def _uuid_or_none(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


@dataclass(eq=False)
class LaunchService:
    """Acts before anyone is signed in: holds the unscoped database and opens the registration's org itself."""

    db: Database
    redis: Redis
    request_id: str = ""
    _: KW_ONLY
    settings: Settings
    keys: PlatformKeys
    auth: AuthService

    def _redis_key(self, *parts: str) -> str:
        return f"{self.settings.redis_key_prefix}lti:{':'.join(parts)}"

    def _on_this_tool(self, url: object) -> bool:
        base = self.settings.base_url
        return isinstance(url, str) and (url == base or url.startswith(base + "/"))

    async def _registration(self, platform_id: UUID, org_id: UUID) -> LtiPlatform:
        async with self.db.transaction(org_id) as session:
            platform = await session.get(LtiPlatform, platform_id)
            if platform is None:
                raise LaunchRefused("unknown_registration", "this LMS registration no longer exists", 404)
            session.expunge(platform)
        return platform

    # --- 1. OIDC login initiation -------------------------------------------------------------------------
    async def login(self, params: Mapping[str, str]) -> LoginOutcome:
        issuer = _param(params, "iss")
        login_hint = _param(params, "login_hint")
        target_link_uri = _param(params, "target_link_uri")
        client_id = _param(params, "client_id", required=False)
        deployment_id = _param(params, "lti_deployment_id", required=False)
        message_hint = _param(params, "lti_message_hint", required=False)
        storage_target = _param(params, "lti_storage_target", required=False)
        assert issuer is not None
        assert login_hint is not None
        assert target_link_uri is not None
        base = self.settings.base_url
        if not self._on_this_tool(target_link_uri):
            raise LaunchRefused("foreign_target", "the target_link_uri is not on this tool")
        if storage_target is not None and (len(storage_target) > 100 or set(storage_target) - _STORAGE_TARGET_CHARS):
            raise LaunchRefused("bad_parameter", "the lti_storage_target parameter is not a frame name")
        async with self.db.transaction(None) as session:
            rows = (
                await session.execute(
                    text("select platform_id, org_id from lyceum_lti_platform(:issuer, :client_id)"),
                    {"issuer": issuer, "client_id": client_id},
                )
            ).all()
        if len(rows) != 1:
            raise LaunchRefused("unknown_registration", "no registration matches this LMS (issuer and client_id)", 404)
        platform = await self._registration(rows[0][0], rows[0][1])
        if deployment_id is not None and deployment_id not in platform.deployment_ids:
            raise LaunchRefused("unregistered_deployment", f"deployment {deployment_id!r} is not registered")
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        entry = LoginState(
            platform_id=platform.id,
            org_id=platform.org_id,
            nonce=nonce,
            target_link_uri=target_link_uri,
            storage_target=storage_target,
        )
        await self.redis.set(
            self._redis_key("state", state), msgspec.json.encode(entry), ex=self.settings.lti_state_ttl_seconds
        )
        query = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": platform.client_id,
            "redirect_uri": f"{base}/lti/launch",
            "login_hint": login_hint,
            "state": state,
            "nonce": nonce,
        }
        if message_hint is not None:
            query["lti_message_hint"] = message_hint
        separator = "&" if "?" in platform.auth_login_url else "?"
        log.info("lti_login", platform_id=str(platform.id), org_id=str(platform.org_id), storage=bool(storage_target))
        return LoginOutcome(
            auth_url=f"{platform.auth_login_url}{separator}{urlencode(query)}",
            storage_target=storage_target,
            state=state,
            nonce=nonce,
            platform_origin=_origin(platform.auth_login_url),
        )

    # --- 2. The launch --------------------------------------------------------------------------------------
    async def launch(self, form: Mapping[str, str]) -> LaunchOutcome:
        id_token = form.get("id_token") or ""
        state = form.get("state") or ""
        if form.get("error"):  # the platform's authorization step refused (OIDC error response)
            raise LaunchRefused("platform_error", f"the LMS answered {form['error'][:100]!r}", 401)
        if not id_token or not state:
            raise LaunchRefused("missing_parameter", "the launch needs both 'id_token' and 'state'")
        if len(id_token) > MAX_ID_TOKEN_BYTES:
            raise LaunchRefused("too_large", "the id_token is too large")
        if len(state) > 200:
            raise LaunchRefused("state_unknown", "this launch's state is unknown, expired or already used")
        raw = await self.redis.getdel(self._redis_key("state", state))  # single use, whatever follows
        if raw is None:
            raise LaunchRefused("state_unknown", "this launch's state is unknown, expired or already used")
        login = msgspec.json.decode(raw, type=LoginState)
        platform = await self._registration(login.platform_id, login.org_id)
        now = time.time()
        expected = Expected(
            issuer=platform.issuer,
            client_id=platform.client_id,
            deployment_ids=list(platform.deployment_ids),
            now=now,
            leeway=self.settings.lti_clock_leeway_seconds,
        )
        try:
            launch = await validate_id_token(id_token, expected, self.keys.provider(platform.id, platform.key_set_url))
        except IdTokenError as exc:
            raise LaunchRefused(exc.code, exc.detail) from exc
        target_link_uri = launch.claims.get(c.TARGET_LINK_URI)
        if target_link_uri is not None and not self._on_this_tool(target_link_uri):
            raise LaunchRefused("foreign_target", "the id_token's target_link_uri is not on this tool")
        if not secrets.compare_digest(launch.nonce, login.nonce):
            raise LaunchRefused("nonce_mismatch", "the id_token's nonce is not the one this login issued")
        # Consumed for the token's whole remaining life: the same id_token can never start a second session.
        lifetime = max(1, int(launch.expires_at - now) + self.settings.lti_clock_leeway_seconds)
        fresh = await self.redis.set(
            self._redis_key("nonce", str(platform.id), launch.nonce), "1", nx=True, ex=lifetime
        )
        if not fresh:
            raise LaunchRefused("nonce_replayed", "this id_token (its nonce) was already used")
        role = lyceum_role(launch.roles)
        if launch.message_type == c.DEEP_LINKING_REQUEST and role not in ("instructor", "admin"):
            raise LaunchRefused("deep_linking_forbidden", "only instructors can choose Lyceum content for the LMS", 403)
        grant = await self._provision(platform, launch)
        if launch.message_type == c.DEEP_LINKING_REQUEST:
            grant.target = LtiSessionTarget(
                kind="deep_link", deep_link_id=await self._store_deep_link(platform, launch, grant)
            )
        code = secrets.token_urlsafe(32)
        await self.redis.set(
            self._redis_key("code", code), msgspec.json.encode(grant), ex=self.settings.lti_launch_code_ttl_seconds
        )
        log.info(
            "lti_launch",
            platform_id=str(platform.id),
            org_id=str(platform.org_id),
            user_id=str(grant.user_id),
            message_type=launch.message_type,
            target=grant.target.kind,
        )
        return LaunchOutcome(
            next_url=f"/lti/app?{urlencode({'code': code})}",
            storage_target=login.storage_target,
            state=state,
            nonce=launch.nonce,
            platform_origin=_origin(platform.auth_login_url),
        )

    async def _provision(self, platform: LtiPlatform, launch: LaunchClaims) -> LaunchGrant:
        claims = launch.claims
        person = LtiPerson(
            sub=launch.sub,
            name=_text(claims.get("name"), 200),
            given_name=_text(claims.get("given_name"), 100),
            family_name=_text(claims.get("family_name"), 100),
            email=_text(claims.get("email"), 320),
            roles=launch.roles,
        )
        context_claim = launch.get_dict(c.CONTEXT)
        link_claim = launch.get_dict(c.RESOURCE_LINK)
        if len(str(context_claim.get("id", ""))) > 255 or len(str(link_claim.get("id", ""))) > 255:
            raise LaunchRefused("bad_parameter", "the context or resource link id is longer than 255 characters")
        ags = launch.get_dict(c.AGS_ENDPOINT)
        nrps = launch.get_dict(c.NRPS)
        async with self.db.transaction(platform.org_id) as session:
            platform = await session.merge(platform, load=False)
            provisioned = await ensure_user(session, platform, person, request_id=self.request_id)
            context: LtiContext | None = None
            if context_claim:
                scopes = ags.get("scope")
                context = await ensure_context(
                    session,
                    platform,
                    str(context_claim["id"]),
                    title=_text(context_claim.get("title"), 500),
                    label=_text(context_claim.get("label"), 255),
                    deployment_id=launch.deployment_id,
                    nrps_url=_url_or_none(nrps.get("context_memberships_url")),
                    ags_lineitems_url=_url_or_none(ags.get("lineitems")),
                    ags_scopes=[s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else None,
                )
                await ensure_member(session, context, provisioned, launch.roles, active=True)
            target = LtiSessionTarget(kind="home")
            if launch.message_type == c.RESOURCE_LINK_REQUEST:
                target = await self._resource_link_target(session, platform, launch, context, link_claim, ags)
            if provisioned.role == "learner" and target.course_id is not None:
                await set_enrollment(session, platform.org_id, provisioned.user_id, target.course_id, active=True)
            return LaunchGrant(
                org_id=platform.org_id,
                user_id=provisioned.user_id,
                role=provisioned.role,
                platform_id=platform.id,
                platform_name=platform.name,
                target=target,
                context=LtiSessionContext(
                    title=_text(context_claim.get("title"), 500), label=_text(context_claim.get("label"), 255)
                ),
            )

    async def _resource_link_target(
        self,
        session: AsyncSession,
        platform: LtiPlatform,
        launch: LaunchClaims,
        context: LtiContext | None,
        link_claim: dict[str, Any],
        ags: dict[str, Any],
    ) -> LtiSessionTarget:
        """The custom parameters deep linking wrote, else the link's stored target, else the context's course,
        else home. Ids from the platform are only trusted when they name something in this org (RLS)."""
        custom = launch.get_dict(c.CUSTOM)
        item: Item | None = None
        course_id: UUID | None = None
        named_item = _uuid_or_none(custom.get(c.CUSTOM_ITEM_ID))
        named_course = _uuid_or_none(custom.get(c.CUSTOM_COURSE_ID))
        if named_item is not None:
            item = await session.get(Item, named_item)
        if item is not None:
            course_id = item.course_id
        elif named_course is not None and await session.get(Course, named_course) is not None:
            course_id = named_course
        link = await ensure_resource_link(
            session,
            platform,
            str(link_claim["id"]),
            context=context,
            title=_text(link_claim.get("title"), 500),
            course_id=course_id,
            item_id=item.id if item is not None else None,
            lineitem_url=_url_or_none(ags.get("lineitem")),
        )
        if item is None and link.item_id is not None:
            item = await session.get(Item, link.item_id)
        if item is not None and item.kind == "assessment" and link.score_maximum is None:
            # The maximum Lyceum's deep-linking content items ask the platform's line item for: a score is
            # posted as a fraction of it, so it must match the gradebook column the platform made from them.
            link.score_maximum = DEEP_LINK_SCORE_MAXIMUM
        if item is not None:
            return LtiSessionTarget(kind="item", course_id=item.course_id, item_id=item.id)
        course_id = course_id or link.course_id or (context.course_id if context is not None else None)
        if course_id is not None:
            return LtiSessionTarget(kind="course", course_id=course_id)
        return LtiSessionTarget(kind="home")

    async def _store_deep_link(self, platform: LtiPlatform, launch: LaunchClaims, grant: LaunchGrant) -> str:
        settings = launch.get_dict(c.DEEP_LINKING_SETTINGS)
        accept_types = settings.get("accept_types")
        targets = settings.get("accept_presentation_document_targets")
        request = DeepLinkRequest(
            platform_id=platform.id,
            org_id=platform.org_id,
            user_id=grant.user_id,
            deployment_id=launch.deployment_id,
            return_url=str(settings["deep_link_return_url"]),
            accept_types=[t for t in accept_types if isinstance(t, str)] if isinstance(accept_types, list) else [],
            accept_multiple=settings.get("accept_multiple") is not False,  # the spec's default is true
            accept_lineitem=settings.get("accept_lineitem") is not False,
            data=settings["data"] if isinstance(settings.get("data"), str) else None,
            title=_text(settings.get("title"), 500) or None,
            text=_text(settings.get("text"), 2000) or None,
            accept_presentation_document_targets=[t for t in targets if isinstance(t, str)]
            if isinstance(targets, list)
            else [],
        )
        deep_link_id = secrets.token_urlsafe(24)
        await self.redis.set(
            self._redis_key("dl", deep_link_id), msgspec.json.encode(request), ex=DEEP_LINK_TTL_SECONDS
        )
        return deep_link_id

    # --- 3. The web app's code exchange ------------------------------------------------------------------
    async def exchange(self, code: str) -> LtiSessionOut:
        raw = await self.redis.getdel(self._redis_key("code", code))  # one exchange only
        if raw is None:
            raise LaunchCodeInvalid("Open the link in your LMS again to get a new one.")
        grant = msgspec.json.decode(raw, type=LaunchGrant)
        pair = await self.auth.sign_in_federated(grant.org_id, grant.user_id, action="lti.launch")
        async with self.db.transaction(grant.org_id, grant.user_id) as session:
            org = await session.get(Organization, grant.org_id)
            name = await session.scalar(select(User.name).where(User.id == grant.user_id))
        assert org is not None
        assert pair.refresh_token is not None
        return LtiSessionOut(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            token_type=pair.token_type,
            org=org.slug,
            user=LtiSessionUser(id=grant.user_id, name=name or "", role=grant.role),
            platform=LtiSessionPlatform(id=grant.platform_id, name=grant.platform_name),
            target=grant.target,
            context=grant.context,
        )
