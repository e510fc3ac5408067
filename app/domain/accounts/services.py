from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Membership, Organization, RefreshToken, User
from app.domain.accounts.guards import ensure_can_edit_user, ensure_can_view_user
from app.domain.accounts.schemas import Me, UserCreate, UserOut, UserUpdate
from app.domain.audit.services import record_audit
from app.domain.base import PrincipalService
from app.lib.errors import Conflict, NotFound
from app.lib.pagination import fetch_page
from app.lib.security.passwords import hash_password


class AccountService(PrincipalService):
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
    async def _out(session: AsyncSession, user: User) -> UserOut:
        roles = await session.scalars(select(Membership.role).where(Membership.user_id == user.id))
        return UserOut(id=user.id, email=user.email, name=user.name, is_active=user.is_active, roles=sorted(roles))

    async def list_members(self, limit: int, offset: int, role: str | None) -> tuple[list[UserOut], int]:
        members = select(Membership.user_id).distinct()
        if role:
            members = members.where(Membership.role == role)
        query = select(User).where(User.id.in_(members))
        async with self._tx() as session:
            users, total = await fetch_page(session, query.order_by(User.email, User.id), limit, offset)
            return [await self._out(session, u) for u in users], total

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
        password_hash = await asyncio.to_thread(hash_password, change.password) if change.password else None
        async with self._tx() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                raise NotFound("No such user in this organization")
            orgs = await session.scalar(text("select lyceum_user_org_count(:u)"), {"u": user_id}) or 0
            ensure_can_edit_user(self.principal, user_id, change, other_orgs=max(0, orgs - 1))
            before = {"name": user.name, "is_active": user.is_active}
            if change.name is not None:
                user.name = change.name
            if change.is_active is not None:
                user.is_active = change.is_active
            if password_hash:
                user.password_hash = password_hash
            revoked = await self._revoke_logins(session, user_id) if change.is_active is False else []
            after = {"name": user.name, "is_active": user.is_active, "password_changed": bool(password_hash)}
            record_audit(
                session,
                org_id=self.principal.org_id,
                actor_id=self.principal.user_id,
                action="user.updated",
                entity_type="user",
                entity_id=user_id,
                before=before,
                after=after,
                request_id=self.request_id,
            )
            out = await self._out(session, user)
        for family in revoked:  # access tokens already issued stop working too
            await self.runtime.denylist.revoke_family(str(family))
        return out

    @staticmethod
    async def _revoke_logins(session: AsyncSession, user_id: UUID) -> list[UUID]:
        """Deactivation ends every login of the user in this org (refresh tokens and their families)."""
        families = list(
            await session.scalars(
                select(RefreshToken.family_id)
                .distinct()
                .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            )
        )
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        return families

    async def create(self, data: UserCreate) -> UserOut:
        email = data.email.strip().lower()
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
                            id=user_id, email=email, name=data.name, password_hash=password_hash, is_active=True
                        )
                    )
            except IntegrityError as exc:
                raise Conflict(f"A user with email {email} already exists") from exc
            for role in sorted(set(data.roles)):
                session.add(Membership(org_id=self.principal.org_id, user_id=user_id, role=role))
            await session.flush()
            user = await session.get(User, user_id)
            assert user is not None
            record_audit(
                session,
                org_id=self.principal.org_id,
                actor_id=self.principal.user_id,
                action="user.created",
                entity_type="user",
                entity_id=user_id,
                after={"email": email, "roles": sorted(set(data.roles))},
                request_id=self.request_id,
            )
            return await self._out(session, user)
