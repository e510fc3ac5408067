"""Login, refresh-token rotation with reuse detection, and logout."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Membership, RefreshToken, User
from app.domain.audit.services import record_audit
from app.domain.auth.schemas import TokenPair
from app.lib.errors import InvalidCredentials, NotAuthenticated
from app.lib.security.passwords import verify_password
from app.lib.security.principal import Principal
from app.lib.throttle import enforce, login_buckets
from app.runtime import Runtime


class AuthService:
    def __init__(self, runtime: Runtime, request_id: str = "") -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.request_id = request_id

    async def login(self, org_slug: str, email: str, password: str) -> TokenPair:
        email = email.strip().lower()
        await enforce(self.runtime, "login", login_buckets(self.runtime, org_slug, email), fail_open=False)
        async with self.db.transaction(None) as session:
            org_id = await session.scalar(text("select lyceum_org_id_for_slug(:slug)"), {"slug": org_slug})
        user: User | None = None
        roles: frozenset[str] = frozenset()
        if org_id is not None:
            async with self.db.transaction(org_id) as session:
                user = await session.scalar(select(User).where(User.email == email))
                if user is not None:
                    roles = frozenset(
                        await session.scalars(select(Membership.role).where(Membership.user_id == user.id))
                    )
        # Always verify (against a dummy hash when there is no user) so timing does not reveal accounts.
        password_ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
        if org_id is None or user is None or not user.is_active or not roles or not password_ok:
            raise InvalidCredentials("Email, password or organization is not correct")
        return await self._issue(org_id, user.id, roles, family_id=uuid.uuid4(), action="auth.login")

    async def _issue(
        self,
        org_id: UUID,
        user_id: UUID,
        roles: frozenset[str],
        *,
        family_id: UUID,
        action: str,
        session: AsyncSession | None = None,
    ) -> TokenPair:
        """Sign a new pair and record the refresh token, inside ``session`` when the caller has one open
        (refresh rotation must commit the old token's rotation and the new token together)."""
        tokens = self.runtime.tokens
        refresh = tokens.issue("refresh", user_id=user_id, org_id=org_id, family_id=family_id)
        access = tokens.issue("access", user_id=user_id, org_id=org_id, family_id=family_id, roles=roles)
        row = RefreshToken(
            id=UUID(refresh.token_id),
            org_id=org_id,
            user_id=user_id,
            family_id=family_id,
            expires_at=datetime.fromtimestamp(refresh.expires_at, UTC),
        )
        if session is None:
            async with self.db.transaction(org_id, user_id) as own:
                self._record_issue(own, row, action)
        else:
            self._record_issue(session, row, action)
        return TokenPair(access_token=access.token, refresh_token=refresh.token, expires_in=tokens.access_ttl)

    def _record_issue(self, session: AsyncSession, row: RefreshToken, action: str) -> None:
        session.add(row)
        record_audit(
            session,
            org_id=row.org_id,
            actor_id=row.user_id,
            action=action,
            entity_type="user",
            entity_id=row.user_id,
            after={"family_id": str(row.family_id)},
            request_id=self.request_id,
        )

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self.runtime.tokens.decode(refresh_token, "refresh")
        try:
            org_id, user_id = UUID(claims["org"]), UUID(claims["sub"])
            token_id, family_id = UUID(claims["jti"]), UUID(claims["fam"])
        except (ValueError, TypeError) as exc:
            raise NotAuthenticated("The refresh token is not valid") from exc
        async with self.db.transaction(org_id, user_id) as session:
            row = await session.scalar(select(RefreshToken).where(RefreshToken.id == token_id).with_for_update())
            if row is None or row.revoked_at is not None:
                raise NotAuthenticated("The refresh token has been revoked; sign in again")
            if row.rotated_at is not None:
                await self._revoke_family(session, org_id, user_id, family_id)
                reused = True
            else:
                reused = False
                user = await session.get(User, user_id)
                roles = frozenset(await session.scalars(select(Membership.role).where(Membership.user_id == user_id)))
                if user is None or not user.is_active or not roles:
                    raise NotAuthenticated("This account is no longer active in this organization")
                row.rotated_at = datetime.now(UTC)
                # Rotation and the new token commit together: a failure leaves the old token usable.
                pair = await self._issue(
                    org_id, user_id, roles, family_id=family_id, action="auth.refresh", session=session
                )
        if reused:  # committed above: the revocation must survive the error we now raise
            await self.runtime.denylist.revoke_family(str(family_id))
            raise NotAuthenticated("This refresh token was already used; all sessions of this login are revoked")
        return pair

    async def _revoke_family(self, session: AsyncSession, org_id: UUID, user_id: UUID, family_id: UUID) -> None:
        """A rotated token came back: someone holds a stolen copy. Kill the whole family."""
        await session.execute(
            update(RefreshToken).where(RefreshToken.family_id == family_id).values(revoked_at=datetime.now(UTC))
        )
        record_audit(
            session,
            org_id=org_id,
            actor_id=user_id,
            action="auth.refresh_reuse_detected",
            entity_type="token_family",
            entity_id=family_id,
            request_id=self.request_id,
        )

    async def logout(self, principal: Principal) -> None:
        await self.runtime.denylist.revoke_token(principal.token_id, principal.expires_at)
        await self.runtime.denylist.revoke_family(principal.family_id)
        async with self.db.transaction(principal.org_id, principal.user_id) as session:
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == UUID(principal.family_id), RefreshToken.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            record_audit(
                session,
                org_id=principal.org_id,
                actor_id=principal.user_id,
                action="auth.logout",
                entity_type="token_family",
                entity_id=principal.family_id,
                request_id=self.request_id,
            )
