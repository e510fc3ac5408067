"""Invitations by email with a one-time link (issue 17): an admin invites an address with a role; only the
SHA-256 of the link's token is stored; the link expires (``INVITATION_TTL``), works once, can be revoked, and
re-sending replaces the token (the old link stops working) and restarts the expiry.

Lyceum has no mail transport (app/lib/notify.py delivers security notices through a hook, nothing sends
mail): the admin is shown the link to pass on, and outside production it is also logged."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.db.models import Invitation, User
from app.domain.accounts.services import checked_email
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.orgadmin.schemas import (
    InvitationCreate,
    InvitationLink,
    InvitationOut,
    InvitationStatus,
)
from app.lib.errors import Conflict, NotFound
from app.lib.pagination import fetch_page, paginated

log = structlog.get_logger("lyceum.invitations")
INVITATION_TTL = timedelta(days=7)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A one-time token (256 random bits, URL-safe) and the hash that is stored."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def invitation_status(row: Invitation, now: datetime) -> InvitationStatus:
    if row.accepted_at is not None:
        return "accepted"
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    return "pending"


def invitation_out(row: Invitation, now: datetime | None = None) -> InvitationOut:
    return InvitationOut(
        id=row.id,
        email=row.email,
        role=row.role,
        status=invitation_status(row, now or datetime.now(UTC)),
        created_at=row.created_at,
        expires_at=row.expires_at,
        invited_by=row.invited_by,
        accepted_at=row.accepted_at,
        revoked_at=row.revoked_at,
    )


@dataclass(eq=False, repr=False, kw_only=True)
class InvitationService(TenantService):
    """The admin's side: invite, list, revoke, re-send. ``settings``: the public URL the link is on, and
    whether the link may be logged (never in production)."""

    settings: Settings

    def _link(self, row: Invitation, token: str) -> InvitationLink:
        path = f"/invite/{token}"
        link = f"{self.settings.base_url}{path}"
        if not self.settings.is_production:
            # No mail transport: in development the link is in the server log too (docs/org-admin.md).
            log.info("invitation_link", invitation_id=str(row.id), role=row.role, link=link)
        return InvitationLink(invitation=invitation_out(row), link=link, path=path)

    async def invite(self, data: InvitationCreate) -> InvitationLink:
        email, flags = checked_email(data.email, accept_mixed_script=data.accept_mixed_script_email)
        token, hashed = new_token()
        now = datetime.now(UTC)
        async with self._tx() as session:
            # RLS shows only users who belong to this org: a member's address cannot be invited again.
            if await session.scalar(select(User.id).where(User.email == email)) is not None:
                raise Conflict(f"{email} is already a member of this organization")
            row = Invitation(
                org_id=self.principal.org_id,
                email=email,
                role=data.role,
                token_hash=hashed,
                expires_at=now + INVITATION_TTL,
                invited_by=self.principal.user_id,
            )
            try:
                async with session.begin_nested():
                    session.add(row)
                    await session.flush()
            except IntegrityError as exc:
                raise Conflict(
                    f"{email} already has an open invitation: re-send or revoke it instead",
                    extra={"code": "invitation-open"},
                ) from exc
            record_audit_by(
                session,
                self.principal,
                action="invitation.created",
                entity_type="invitation",
                entity_id=row.id,
                after={"email": email, "role": data.role, **({"email_flags": flags} if flags else {})},
                request_id=self.request_id,
            )
            await session.refresh(row)
            return self._link(row, token)

    async def list(self, page: LimitOffset, status: InvitationStatus | None) -> OffsetPagination[InvitationOut]:
        query = select(Invitation)
        now = datetime.now(UTC)
        if status == "accepted":
            query = query.where(Invitation.accepted_at.is_not(None))
        elif status == "revoked":
            query = query.where(Invitation.revoked_at.is_not(None), Invitation.accepted_at.is_(None))
        elif status in ("pending", "expired"):
            open_ = query.where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
            query = open_.where(Invitation.expires_at > now if status == "pending" else Invitation.expires_at <= now)
        async with self._tx() as session:
            rows, result = await fetch_page(session, query.order_by(Invitation.created_at.desc(), Invitation.id), page)
            return paginated([invitation_out(r, now) for r in rows], result)

    async def revoke(self, invitation_id: UUID) -> InvitationOut:
        async with self._tx() as session:
            row = await session.get(Invitation, invitation_id, with_for_update=True)  # RLS: this org's only
            if row is None:
                raise NotFound("No such invitation in this organization")
            if row.accepted_at is not None:
                raise Conflict("This invitation was already accepted; deactivate the account instead")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
                record_audit_by(
                    session,
                    self.principal,
                    action="invitation.revoked",
                    entity_type="invitation",
                    entity_id=row.id,
                    after={"email": row.email},
                    request_id=self.request_id,
                )
            await session.flush()
            await session.refresh(row)
            return invitation_out(row)

    async def resend(self, invitation_id: UUID) -> InvitationLink:
        """A new link for an open (pending or expired) invitation: the old token stops working and the
        expiry starts again."""
        token, hashed = new_token()
        async with self._tx() as session:
            row = await session.get(Invitation, invitation_id, with_for_update=True)
            if row is None:
                raise NotFound("No such invitation in this organization")
            if row.accepted_at is not None:
                raise Conflict("This invitation was already accepted")
            if row.revoked_at is not None:
                raise Conflict("This invitation was revoked; invite the address again instead")
            row.token_hash = hashed
            row.expires_at = datetime.now(UTC) + INVITATION_TTL
            record_audit_by(
                session,
                self.principal,
                action="invitation.resent",
                entity_type="invitation",
                entity_id=row.id,
                after={"email": row.email, "expires_at": row.expires_at.isoformat()},
                request_id=self.request_id,
            )
            await session.flush()
            await session.refresh(row)
            return self._link(row, token)
