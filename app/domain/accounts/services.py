from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Membership, Organization, User
from app.domain.accounts.guards import ensure_can_edit_user, ensure_can_reset_password, ensure_can_view_user
from app.domain.accounts.schemas import Me, UserCreate, UserOut, UserUpdate
from app.domain.audit.services import record_audit_by
from app.domain.auth.revocation import end_all_logins
from app.domain.base import TenantService
from app.lib.errors import Conflict, NotFound, ValidationFailed
from app.lib.notify import SecurityNotice, send_security_notice
from app.lib.pagination import fetch_page, paginated
from app.lib.security.denylist import TokenDenylist
from app.lib.security.passwords import hash_password
from app.lib.text import TextRejected, check_email, clean_name

log = structlog.get_logger("lyceum.accounts")


def _name(raw: str) -> str:
    try:
        return clean_name(raw)
    except TextRejected as exc:
        raise ValidationFailed(f"name: {exc}", errors=[{"pointer": "#/name", "detail": str(exc)}]) from exc


def _email(raw: str, *, accept_mixed_script: bool) -> tuple[str, list[str]]:
    """The normalised address and its flags; refused outright when it hides characters, and when it mixes
    scripts unless the admin accepted that explicitly."""
    try:
        checked = check_email(raw)
    except TextRejected as exc:
        raise ValidationFailed(f"email: {exc}", errors=[{"pointer": "#/email", "detail": str(exc)}]) from exc
    if not checked.mixed_script:
        return checked.email, []
    if not accept_mixed_script:
        detail = (
            f"{checked.mixed_script}: look-alike letters are a common way to impersonate someone. Check the "
            "address, or send accept_mixed_script_email: true if it really is written this way"
        )
        raise ValidationFailed(f"email: {detail}", errors=[{"pointer": "#/email", "detail": detail}])
    return checked.email, ["mixed_script"]


@dataclass(eq=False, repr=False, kw_only=True)
class AccountService(TenantService):
    """Members of the caller's org. Ending someone's logins clears their cached revocation state
    (``denylist``); a password reset is also told to the security notice hook (``notify_hook``)."""

    denylist: TokenDenylist
    notify_hook: str

    async def me(self) -> Me:
        async with self._tx() as session:
            user = await session.get(User, self.principal.user_id)
            org = await session.get(Organization, self.principal.org_id)
            if user is None or org is None:
                raise NotFound("Your account no longer exists")
            return Me(
                user_id=user.id,
                org_id=org.id,
                org=org.slug,
                email=user.email,
                name=user.name,
                roles=sorted(self.principal.roles),
            )

    @staticmethod
    async def _roles(session: AsyncSession, user_ids: list[UUID]) -> dict[UUID, list[str]]:
        """Each user's roles in this org (RLS scopes memberships to it), in one statement for a whole page."""
        roles: dict[UUID, list[str]] = {user_id: [] for user_id in user_ids}
        if user_ids:
            rows = await session.execute(
                select(Membership.user_id, Membership.role).where(Membership.user_id.in_(user_ids))
            )
            for user_id, role in rows:
                roles[user_id].append(role)
        return roles

    @staticmethod
    def _user_out(user: User, roles: list[str]) -> UserOut:
        return UserOut(id=user.id, email=user.email, name=user.name, is_active=user.is_active, roles=sorted(roles))

    @classmethod
    async def _out(cls, session: AsyncSession, user: User) -> UserOut:
        return cls._user_out(user, (await cls._roles(session, [user.id]))[user.id])

    async def list_members(self, page: LimitOffset, role: str | None) -> OffsetPagination[UserOut]:
        members = select(Membership.user_id).distinct()
        if role:
            members = members.where(Membership.role == role)
        query = select(User).where(User.id.in_(members))
        # Hand-written Core (ADR 0009): users filtered through memberships, roles batched for the page.
        async with self._tx() as session:
            users, result = await fetch_page(session, query.order_by(User.email, User.id), page)
            roles = await self._roles(session, [u.id for u in users])
            return paginated([self._user_out(u, roles.get(u.id, [])) for u in users], result)

    async def get(self, user_id: UUID) -> UserOut:
        ensure_can_view_user(self.principal, user_id)
        async with self._tx() as session:
            user = await session.get(User, user_id)  # RLS: only members of this org are visible
            if user is None:
                raise NotFound("No such user in this organization")
            return await self._out(session, user)

    async def update(self, user_id: UUID, change: UserUpdate) -> UserOut:
        if user_id != self.principal.user_id:
            ensure_can_view_user(self.principal, user_id)
        name = _name(change.name) if change.name is not None else None
        ended = False
        async with self._tx() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                raise NotFound("No such user in this organization")
            orgs = await session.scalar(text("select lyceum_user_org_count(:u)"), {"u": user_id}) or 0
            ensure_can_edit_user(self.principal, user_id, change, other_orgs=max(0, orgs - 1))
            before = {"name": user.name, "is_active": user.is_active}
            if name is not None:
                user.name = name
            if change.is_active is not None:
                ended = user.is_active and not change.is_active
                user.is_active = change.is_active
            if ended:
                # Deactivation ends every login at once, and raising the token version keeps them ended
                # should the account be activated again.
                await end_all_logins(session, user_id)
            after = {"name": user.name, "is_active": user.is_active}
            record_audit_by(
                session,
                self.principal,
                action="user.updated",
                entity_type="user",
                entity_id=user_id,
                before=before,
                after=after,
                request_id=self.request_id,
            )
            out = await self._out(session, user)
        if ended:
            await self.denylist.invalidate(user_id)
        return out

    async def reset_password(self, user_id: UUID, new_password: str) -> None:
        """An admin sets a member's password (they forgot it): every login of that person ends, and they
        are told. Only for people who belong to the admin's org alone."""
        password_hash = await asyncio.to_thread(hash_password, new_password)
        async with self._tx() as session:
            user = await session.get(User, user_id, with_for_update=True)  # RLS: members of this org only
            if user is None:
                raise NotFound("No such user in this organization")
            orgs = await session.scalar(text("select lyceum_user_org_count(:u)"), {"u": user_id}) or 0
            ensure_can_reset_password(self.principal, user_id, other_orgs=max(0, orgs - 1))
            user.password_hash = password_hash
            version = await end_all_logins(session, user_id)
            record_audit_by(
                session,
                self.principal,
                action="user.password_reset",
                entity_type="user",
                entity_id=user_id,
                after={"logins_ended": True, "token_version": version},
                request_id=self.request_id,
            )
            notice = SecurityNotice(
                kind="password_reset",
                user_id=user_id,
                org_id=self.principal.org_id,
                email=user.email,
                name=user.name,
                actor_id=self.principal.user_id,
                at=datetime.now(UTC),
                request_id=self.request_id,
            )
        await self.denylist.invalidate(user_id)
        await send_security_notice(self.notify_hook, notice)

    async def create(self, data: UserCreate) -> UserOut:
        email, flags = _email(data.email, accept_mixed_script=data.accept_mixed_script_email)
        name = _name(data.name)
        if flags:
            log.warning("mixed_script_email_accepted", email_flags=flags, actor_id=str(self.principal.user_id))
        password_hash = await asyncio.to_thread(hash_password, data.password) if data.password else None
        async with self._tx() as session:
            # The identity may already exist (member of another org): RLS hides it, the unique email
            # constraint does not, so adding such a person to this org needs an invitation flow (not yet).
            # Plain INSERT: RETURNING and ON CONFLICT would need the new row to be visible, and it is
            # not until its membership exists. A taken email surfaces as a unique violation.
            user_id = uuid.uuid4()
            try:
                async with session.begin_nested():
                    await session.execute(
                        insert(User).values(
                            id=user_id, email=email, name=name, password_hash=password_hash, is_active=True
                        )
                    )
            except IntegrityError as exc:
                raise Conflict(f"A user with email {email} already exists") from exc
            for role in sorted(set(data.roles)):
                session.add(Membership(org_id=self.principal.org_id, user_id=user_id, role=role))
            await session.flush()
            user = await session.get(User, user_id)
            assert user is not None
            record_audit_by(
                session,
                self.principal,
                action="user.created",
                entity_type="user",
                entity_id=user_id,
                after={"email": email, "roles": sorted(set(data.roles)), **({"email_flags": flags} if flags else {})},
                request_id=self.request_id,
            )
            return await self._out(session, user)
