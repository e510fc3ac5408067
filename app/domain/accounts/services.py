from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Membership, Organization, RefreshToken, User
from app.domain.accounts.guards import (
    ensure_can_edit_user,
    ensure_can_reset_password,
    ensure_can_set_roles,
    ensure_can_view_user,
)
from app.domain.accounts.schemas import Me, UserCreate, UserOut, UserUpdate
from app.domain.audit.services import record_audit_by
from app.domain.auth.revocation import end_all_logins
from app.domain.base import TenantService
from app.lib.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.lib.notify import SecurityNotice, send_security_notice
from app.lib.pagination import fetch_page, paginated
from app.lib.security.denylist import TokenDenylist
from app.lib.security.passwords import hash_password
from app.lib.text import TextRejected, check_email, clean_name

log = structlog.get_logger("lyceum.accounts")


class LastAdmin(Forbidden):
    slug, title = "last-admin", "The organization needs an active admin"


async def ensure_active_admin_remains(session: AsyncSession, org_id: UUID, losing: UUID) -> None:
    """Refuse a change that would leave the org without an active admin once ``losing`` is no longer one.
    The org's admin changes are serialised by a transaction-scoped advisory lock, so two admins demoting or
    deactivating each other at once cannot both pass the count."""
    await session.execute(
        text("select pg_advisory_xact_lock(hashtext('lyceum:admins:' || :org))"), {"org": str(org_id)}
    )
    others = await session.scalar(
        select(func.count(func.distinct(Membership.user_id)))
        .join(User, User.id == Membership.user_id)
        .where(Membership.role == "admin", Membership.user_id != losing, User.is_active.is_(True))
    )
    if not others:
        raise LastAdmin("This would leave the organization without an active admin: make someone else an admin first")


def _like(term: str) -> str:
    """A case-insensitive substring pattern with LIKE's wildcards taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def checked_name(raw: str) -> str:
    try:
        return clean_name(raw)
    except TextRejected as exc:
        raise ValidationFailed(f"name: {exc}", errors=[{"pointer": "#/name", "detail": str(exc)}]) from exc


def checked_email(raw: str, *, accept_mixed_script: bool) -> tuple[str, list[str]]:
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
    async def _last_seen(session: AsyncSession, user_ids: list[UUID]) -> dict[UUID, datetime]:
        """When each user last signed in or refreshed in this org (RLS scopes refresh tokens to it)."""
        if not user_ids:
            return {}
        rows = await session.execute(
            select(RefreshToken.user_id, func.max(RefreshToken.created_at))
            .where(RefreshToken.user_id.in_(user_ids))
            .group_by(RefreshToken.user_id)
        )
        return {user_id: seen for user_id, seen in rows}

    @staticmethod
    def _user_out(user: User, roles: list[str], last_seen: datetime | None = None) -> UserOut:
        return UserOut(
            id=user.id,
            email=user.email,
            name=user.name,
            is_active=user.is_active,
            roles=sorted(roles),
            last_seen_at=last_seen,
        )

    @classmethod
    async def _out(cls, session: AsyncSession, user: User) -> UserOut:
        seen = await cls._last_seen(session, [user.id])
        return cls._user_out(user, (await cls._roles(session, [user.id]))[user.id], seen.get(user.id))

    async def list_members(
        self, page: LimitOffset, role: str | None, search: str | None = None
    ) -> OffsetPagination[UserOut]:
        members = select(Membership.user_id).distinct()
        if role:
            members = members.where(Membership.role == role)
        query = select(User).where(User.id.in_(members))
        if search and search.strip():
            pattern = _like(search.strip())
            query = query.where(or_(User.email.ilike(pattern, escape="\\"), User.name.ilike(pattern, escape="\\")))
        # Hand-written Core (ADR 0009): users filtered through memberships, roles batched for the page.
        async with self._tx() as session:
            users, result = await fetch_page(session, query.order_by(User.email, User.id), page)
            ids = [u.id for u in users]
            roles = await self._roles(session, ids)
            seen = await self._last_seen(session, ids)
            return paginated([self._user_out(u, roles.get(u.id, []), seen.get(u.id)) for u in users], result)

    async def set_roles(self, user_id: UUID, wanted: Sequence[str]) -> UserOut:
        """Replace a member's roles in this org. Removing a role ends the person's sessions (their access
        tokens carry the old roles); the org always keeps one active admin."""
        ensure_can_set_roles(self.principal)
        roles = sorted(set(wanted))
        removed: list[str] = []
        async with self._tx() as session:
            user = await session.get(User, user_id, with_for_update=True)  # RLS: members of this org only
            if user is None:
                raise NotFound("No such user in this organization")
            before = (await self._roles(session, [user_id]))[user_id]
            removed = sorted(set(before) - set(roles))
            if "admin" in removed:
                await ensure_active_admin_remains(session, self.principal.org_id, user_id)
            for role in removed:
                await session.execute(delete(Membership).where(Membership.user_id == user_id, Membership.role == role))
            for role in sorted(set(roles) - set(before)):
                session.add(Membership(org_id=self.principal.org_id, user_id=user_id, role=role))
            if removed:
                await end_all_logins(session, user_id)
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="user.roles_changed",
                entity_type="user",
                entity_id=user_id,
                before={"roles": sorted(before)},
                after={"roles": roles, **({"logins_ended": True} if removed else {})},
                request_id=self.request_id,
            )
            out = await self._out(session, user)
        if removed:
            await self.denylist.invalidate(user_id)
        return out

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
        name = checked_name(change.name) if change.name is not None else None
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
                if ended and "admin" in (await self._roles(session, [user_id]))[user_id]:
                    await ensure_active_admin_remains(session, self.principal.org_id, user_id)
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
        email, flags = checked_email(data.email, accept_mixed_script=data.accept_mixed_script_email)
        name = checked_name(data.name)
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
