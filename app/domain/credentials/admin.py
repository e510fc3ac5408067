"""Staff and admin operations: the org's issuer profile and key rotation (admins), the credentials list and
revocation (instructors and admins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Course, Credential, IssuerProfile, User
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.credentials.issuer import issuer_identity, published_keys, rotate_key
from app.domain.credentials.schemas import (
    AdminCredentialOut,
    CredentialStatusFilter,
    IssuerKeyOut,
    IssuerOut,
    IssuerProfileIn,
)
from app.domain.credentials.status import lock_status_list, sign_status_list
from app.domain.webhooks.outbox import record_event
from app.lib.errors import Conflict, NotFound, ValidationFailed
from app.lib.event_payloads import CredentialRevoked
from app.lib.events import EventBus
from app.lib.pagination import fetch_page, paginated


class AlreadyRevoked(Conflict):
    slug, title = "already-revoked", "The credential is already revoked"


@dataclass(eq=False, repr=False, kw_only=True)
class IssuerAdminService(TenantService):
    """The caller's org as an issuer (admins): its profile and its signing keys."""

    settings: Settings

    async def _view(self, session: AsyncSession) -> IssuerOut:
        org_id = self.principal.org_id
        identity = await issuer_identity(session, self.settings, org_id)
        profile = await session.scalar(select(IssuerProfile).where(IssuerProfile.org_id == org_id))
        keys = [
            IssuerKeyOut(kid=k.kid, active=k.active, created_at=k.created_at, retired_at=k.retired_at)
            for k in await published_keys(session, org_id)
        ]
        return IssuerOut(
            did=identity.did,
            name=str(identity.profile["name"]),
            url=profile.url if profile else "",
            email=profile.email if profile else "",
            image_url=profile.image_url if profile else "",
            description=profile.description if profile else "",
            keys=keys,
        )

    async def view(self) -> IssuerOut:
        async with self._tx() as session:
            return await self._view(session)

    async def update_profile(self, data: IssuerProfileIn) -> IssuerOut:
        name = data.name.strip()
        if not name:
            raise ValidationFailed("name must not be blank", errors=[{"pointer": "#/name", "detail": "blank"}])
        fields = {
            "name": name,
            "url": data.url,
            "email": data.email,
            "image_url": data.image_url,
            "description": data.description.strip(),
        }
        async with self._tx() as session:
            org_id = self.principal.org_id
            profile = await session.scalar(
                select(IssuerProfile).where(IssuerProfile.org_id == org_id).with_for_update()
            )
            before: dict[str, Any] | None = None
            if profile is None:
                profile = IssuerProfile(org_id=org_id, **fields)
                session.add(profile)
            else:
                before = {name: getattr(profile, name) for name in fields}
                for key, value in fields.items():
                    setattr(profile, key, value)
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="issuer.profile_updated",
                entity_type="issuer_profile",
                entity_id=profile.id,
                before=before,
                after=fields,
                request_id=self.request_id,
            )
            return await self._view(session)

    async def rotate(self) -> IssuerOut:
        """Retire the active key (still published) and activate a new one; credentials issued from now on
        are signed with it. The private keys never appear in the response or the audit entry."""
        async with self._tx() as session:
            old, new = await rotate_key(session, self.settings, self.principal.org_id)
            record_audit_by(
                session,
                self.principal,
                action="issuer.key_rotated",
                entity_type="issuer_key",
                entity_id=new,
                before={"kid": old} if old else None,
                after={"kid": new},
                request_id=self.request_id,
            )
            return await self._view(session)


def _row_out(credential: Credential, title: str | None, name: str | None, email: str | None) -> AdminCredentialOut:
    return AdminCredentialOut(
        id=credential.id,
        course_id=credential.course_id,
        course_title=title or "",
        user_id=credential.user_id,
        learner_name=name or "",
        learner_email=email or "",
        issued_at=credential.issued_at,
        status=credential.status,
        revoked_at=credential.revoked_at,
        revocation_reason=credential.revocation_reason,
    )


@dataclass(eq=False, repr=False, kw_only=True)
class CredentialAdminService(TenantService):
    """The org's issued credentials for staff: list, revoke (the bit flips and the list is re-signed)."""

    settings: Settings
    events: EventBus

    @staticmethod
    def _query() -> Any:
        # Outer joins: a learner who has left the org is no longer visible (users RLS), their credential is.
        return (
            select(Credential, Course.title, User.name, User.email)
            .outerjoin(Course, Course.id == Credential.course_id)
            .outerjoin(User, User.id == Credential.user_id)
        )

    async def list(
        self, page: LimitOffset, status: CredentialStatusFilter | None, course_id: UUID | None
    ) -> OffsetPagination[AdminCredentialOut]:
        query = self._query()
        if status is not None:
            query = query.where(Credential.status == status)
        if course_id is not None:
            query = query.where(Credential.course_id == course_id)
        async with self._tx() as session:
            rows, result = await fetch_page(session, query.order_by(Credential.issued_at.desc(), Credential.id), page)
        return paginated([_row_out(*row) for row in rows], result)

    async def revoke(self, credential_id: UUID, reason: str) -> AdminCredentialOut:
        reason = reason.strip()
        if not reason:
            raise ValidationFailed(
                "reason must not be blank", errors=[{"pointer": "#/reason", "detail": "must not be blank"}]
            )
        async with self._tx() as session:
            credential = await session.scalar(
                select(Credential).where(Credential.id == credential_id).with_for_update()
            )
            if credential is None:  # unknown, or another org's (row-level security hides it)
                raise NotFound("No such credential")
            if credential.status == "revoked":
                raise AlreadyRevoked(f"Credential {credential_id} was revoked at {credential.revoked_at}")
            credential.status = "revoked"
            credential.revoked_at = datetime.now(UTC)
            credential.revocation_reason = reason
            await session.flush()
            if credential.status_list_id is not None:
                status_list = await lock_status_list(session, credential.status_list_id)
                if status_list is not None:
                    await sign_status_list(session, self.settings, status_list)
            record_audit_by(
                session,
                self.principal,
                action="credential.revoked",
                entity_type="credential",
                entity_id=credential.id,
                before={"status": "active"},
                after={"status": "revoked", "reason": reason},
                request_id=self.request_id,
            )
            row = (await session.execute(self._query().where(Credential.id == credential_id))).one()
            out = _row_out(*row)
            revoked = CredentialRevoked(
                credential_id=out.id, course_id=out.course_id, user_id=out.user_id, reason=reason
            )
            await record_event(session, self.principal.org_id, revoked)  # webhooks: with the revocation
        await self.events.publish(self.principal.org_id, revoked)
        return out
