"""Platform registrations (issue 14 §1): an org admin registers an LMS by hand, lists, edits and removes
it, and creates one-time invitations for LTI Dynamic Registration (app/domain/lti/dynamic.py).

A registration belongs to exactly one org, but (issuer, client_id) names one registration across all orgs
(a launch finds its org from it), so a duplicate is refused with a 409 that does not say which org holds
it. The other org's row is invisible under row-level security: the definer function
``lyceum_lti_platform`` answers whether the pair exists, and the unique index settles a race."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import LtiPlatform
from app.db.repositories import Repository, RepositoryService
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.lti.admin_schemas import (
    PlatformIn,
    PlatformOut,
    PlatformUpdate,
    RegistrationInviteOut,
    ToolUrlsOut,
)
from app.lib.errors import Conflict, NotFound, ValidationFailed
from app.lib.lti.http import UnsafeUrl, check_url_shape
from app.lib.lti.urls import origin_of, tool_urls

INVITE_TTL_SECONDS = 24 * 3600
URL_FIELDS = ("issuer", "auth_login_url", "auth_token_url", "key_set_url")
DUPLICATE = "A platform with this issuer and client_id is already registered"
_OLDEST_FIRST: list[Any] = [(LtiPlatform.created_at, False), (LtiPlatform.id, False)]


def invite_key(settings: Settings, token: str) -> str:
    return f"{settings.redis_key_prefix}lti:register:{token}"


class PlatformRepository(Repository[LtiPlatform]):
    model_type = LtiPlatform


class PlatformRegistrations(RepositoryService[LtiPlatform, PlatformRepository]):
    """Reads of the org's registrations (ADR 0009: CRUD-shaped, one table), on the tenant session."""

    repository_type = PlatformRepository


def platform_out(row: LtiPlatform) -> PlatformOut:
    return PlatformOut(
        id=row.id,
        name=row.name,
        issuer=row.issuer,
        client_id=row.client_id,
        auth_login_url=row.auth_login_url,
        auth_token_url=row.auth_token_url,
        key_set_url=row.key_set_url,
        deployment_ids=list(row.deployment_ids or []),
        registered_by=row.registered_by,  # type: ignore[arg-type]
        frame_origins=frame_origins_of(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def frame_origins_of(row: LtiPlatform) -> list[str]:
    origins = (row.extra or {}).get("frame_origins", [])
    return [str(o) for o in origins] if isinstance(origins, list) else []


def set_frame_origins(row: LtiPlatform, origins: list[str]) -> None:
    row.extra = {**(row.extra or {}), "frame_origins": origins}  # a new dict: JSONB changes are tracked by value


def snapshot(row: LtiPlatform) -> dict[str, Any]:
    """What the audit log keeps of a registration (everything an admin can set; nothing secret in it)."""
    return {
        "name": row.name,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "auth_login_url": row.auth_login_url,
        "auth_token_url": row.auth_token_url,
        "key_set_url": row.key_set_url,
        "deployment_ids": list(row.deployment_ids or []),
        "registered_by": row.registered_by,
        "frame_origins": frame_origins_of(row),
    }


def clean_fields(values: dict[str, Any], *, allow_private: bool) -> dict[str, Any]:
    """Trimmed values, or ValidationFailed naming every field that is wrong and why."""
    errors: list[dict[str, str]] = []
    cleaned = dict(values)
    for name in ("issuer", "client_id", "auth_login_url", "auth_token_url", "key_set_url", "name"):
        if isinstance(cleaned.get(name), str):
            cleaned[name] = cleaned[name].strip()
            if name != "name" and not cleaned[name]:
                errors.append({"pointer": f"#/{name}", "detail": "must not be blank"})
    for name in URL_FIELDS:
        value = cleaned.get(name)
        if value:
            try:
                check_url_shape(value, allow_private=allow_private)
            except UnsafeUrl as exc:
                errors.append({"pointer": f"#/{name}", "detail": str(exc)})
    if cleaned.get("deployment_ids") is not None:
        ids: list[str] = []
        for index, raw in enumerate(cleaned["deployment_ids"]):
            value = raw.strip()
            if not value:
                errors.append({"pointer": f"#/deployment_ids/{index}", "detail": "must not be blank"})
            elif value not in ids:
                ids.append(value)
        cleaned["deployment_ids"] = ids
    if cleaned.get("frame_origins") is not None:
        origins: list[str] = []
        for index, raw in enumerate(cleaned["frame_origins"]):
            origin = origin_of(raw)
            try:
                check_url_shape(raw.strip(), allow_private=allow_private)
            except UnsafeUrl as exc:
                errors.append({"pointer": f"#/frame_origins/{index}", "detail": str(exc)})
                continue
            if origin is None:
                errors.append({"pointer": f"#/frame_origins/{index}", "detail": "not an http(s) origin"})
            elif origin not in origins:
                origins.append(origin)
        cleaned["frame_origins"] = origins
    if errors:
        raise ValidationFailed("The registration did not validate", errors=errors)
    return cleaned


async def registered_elsewhere(session: AsyncSession, issuer: str, client_id: str, own: UUID | None = None) -> bool:
    """Whether (issuer, client_id) is registered in any org (other than ``own``), through the definer lookup."""
    rows = await session.execute(
        text("select platform_id from lyceum_lti_platform(:issuer, :client_id)"),
        {"issuer": issuer, "client_id": client_id},
    )
    return any(row[0] != own for row in rows)


async def flush_unique(session: AsyncSession) -> None:
    """Flush, turning a lost race on the (issuer, client_id) unique index into the same 409."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if "uq_lti_platforms_issuer_client" in str(exc.orig):
            raise Conflict(DUPLICATE) from exc
        raise


@dataclass(eq=False, repr=False, kw_only=True)
class RegistrationAdminService(TenantService):
    """The org admin's registrations and dynamic-registration invitations (every change audited)."""

    settings: Settings
    redis: Redis

    async def list(self, page: LimitOffset) -> OffsetPagination[PlatformOut]:
        async with self._tx() as session:
            registrations = PlatformRegistrations(session=session)
            rows, total = await registrations.list_and_count(page, order_by=_OLDEST_FIRST)
        return OffsetPagination(
            items=[platform_out(r) for r in rows], limit=page.limit, offset=page.offset, total=total
        )

    async def get(self, platform_id: UUID) -> PlatformOut:
        async with self._tx() as session:
            return platform_out(await self._row(session, platform_id))

    async def _row(self, session: AsyncSession, platform_id: UUID, *, lock: bool = False) -> LtiPlatform:
        row = await session.get(LtiPlatform, platform_id, with_for_update=lock)
        if row is None:
            raise NotFound("No such LTI platform registration in this organization")
        return row

    async def create(self, data: PlatformIn) -> PlatformOut:
        values = clean_fields(
            {name: getattr(data, name) for name in data.__struct_fields__},
            allow_private=self.settings.lti_allow_private,
        )
        async with self._tx() as session:
            if await registered_elsewhere(session, values["issuer"], values["client_id"]):
                raise Conflict(DUPLICATE)
            origins = values.pop("frame_origins", [])
            row = LtiPlatform(org_id=self.principal.org_id, registered_by="admin", extra={}, **values)
            set_frame_origins(row, origins)
            session.add(row)
            await flush_unique(session)
            record_audit_by(
                session,
                self.principal,
                action="lti_platform.created",
                entity_type="lti_platform",
                entity_id=row.id,
                after=snapshot(row),
                request_id=self.request_id,
            )
            await session.flush()
            await session.refresh(row)
            return platform_out(row)

    async def update(self, platform_id: UUID, change: PlatformUpdate) -> PlatformOut:
        given = {name: getattr(change, name) for name in change.__struct_fields__ if getattr(change, name) is not None}
        values = clean_fields(given, allow_private=self.settings.lti_allow_private)
        async with self._tx() as session:
            row = await self._row(session, platform_id, lock=True)
            before = snapshot(row)
            issuer, client_id = values.get("issuer", row.issuer), values.get("client_id", row.client_id)
            if (issuer, client_id) != (row.issuer, row.client_id) and await registered_elsewhere(
                session, issuer, client_id, own=row.id
            ):
                raise Conflict(DUPLICATE)
            if "frame_origins" in values:
                set_frame_origins(row, values.pop("frame_origins"))
            for name, value in values.items():
                setattr(row, name, value)
            await flush_unique(session)
            record_audit_by(
                session,
                self.principal,
                action="lti_platform.updated",
                entity_type="lti_platform",
                entity_id=row.id,
                before=before,
                after=snapshot(row),
                request_id=self.request_id,
            )
            await session.flush()
            await session.refresh(row)
            return platform_out(row)

    async def delete(self, platform_id: UUID) -> None:
        """Remove a registration: launches through it stop at once; its LMS users, contexts and links go
        with it (the Lyceum users, enrolments and grades stay)."""
        async with self._tx() as session:
            row = await self._row(session, platform_id, lock=True)
            record_audit_by(
                session,
                self.principal,
                action="lti_platform.deleted",
                entity_type="lti_platform",
                entity_id=row.id,
                before=snapshot(row),
                request_id=self.request_id,
            )
            await session.delete(row)

    async def create_invite(self) -> RegistrationInviteOut:
        """A one-time dynamic-registration link for this org (``lti:register:<token>``, 24 h). Whoever holds
        it can register a platform into the org, so it is only shown to the admin who made it."""
        token = secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + timedelta(seconds=INVITE_TTL_SECONDS)
        invite = {
            "org_id": str(self.principal.org_id),
            "created_by": str(self.principal.user_id),
            "expires_at": expires_at.isoformat(),
        }
        await self.redis.set(invite_key(self.settings, token), json.dumps(invite), ex=INVITE_TTL_SECONDS)
        async with self._tx() as session:
            record_audit_by(
                session,
                self.principal,
                action="lti_registration.invited",
                entity_type="lti_registration_invite",
                entity_id=token[:8],  # enough to tell invitations apart, useless to redeem one
                after={"expires_at": expires_at.isoformat()},
                request_id=self.request_id,
            )
        return RegistrationInviteOut(
            url=f"{tool_urls(self.settings.base_url).register}?invite={token}", expires_at=expires_at
        )

    def tool(self) -> ToolUrlsOut:
        urls = tool_urls(self.settings.base_url)
        return ToolUrlsOut(
            login_url=urls.login,
            launch_url=urls.launch,
            jwks_url=urls.jwks,
            registration_url=urls.register,
            deep_linking_url=urls.launch,
            domain=urls.domain,
        )
