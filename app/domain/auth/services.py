"""Login, refresh-token rotation with reuse detection, logout, and changing one's own password.

Every revocation is written to PostgreSQL first and then clears the cached revocation state
(``TokenDenylist.invalidate``), so it holds even when Redis loses its data (docs/security.md)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from uuid import UUID

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import Database
from app.db.models import Membership, Organization, RefreshToken, User
from app.domain.audit.services import record_audit, record_audit_by
from app.domain.auth.revocation import end_all_logins
from app.domain.auth.schemas import TokenPair
from app.lib.errors import Forbidden, InvalidCredentials, NotAuthenticated, ValidationFailed
from app.lib.notify import SecurityNotice, send_security_notice
from app.lib.ratelimit import TokenBucketLimiter
from app.lib.security.denylist import TokenDenylist
from app.lib.security.passwords import hash_password, verify_password
from app.lib.security.principal import Principal
from app.lib.security.tokens import TokenCodec, token_version
from app.lib.text import normalise_email
from app.lib.throttle import enforce, login_buckets, password_buckets

log = structlog.get_logger("lyceum.auth")


class SsoRequired(Forbidden):
    slug, title = "sso-required", "Single sign-on required"


class _GracePair(msgspec.Struct):
    """The pair a refresh token was rotated into, kept for the grace window (tabs refreshing together)."""

    successor: str  # the new refresh token's id
    pair: TokenPair


@dataclass(eq=False, repr=False)
class AuthService:
    """Acts before or without a signed-in principal, so it holds the unscoped database and passes the tenant
    itself. ``limiter``: the login throttle; ``redis``: the refresh grace window's pairs; ``denylist``: the
    cached revocation state, cleared after every revocation."""

    db: Database
    request_id: str = ""
    _: KW_ONLY
    settings: Settings
    tokens: TokenCodec
    denylist: TokenDenylist
    limiter: TokenBucketLimiter
    redis: Redis

    async def login(self, org_slug: str, email: str, password: str) -> TokenPair:
        email = normalise_email(email)
        await enforce(
            self.settings, self.limiter, "login", login_buckets(self.settings, org_slug, email), fail_open=False
        )
        async with self.db.transaction(None) as session:
            org_id = await session.scalar(text("select lyceum_org_id_for_slug(:slug)"), {"slug": org_slug})
        user: User | None = None
        roles: frozenset[str] = frozenset()
        sso_required = False
        if org_id is not None:
            async with self.db.transaction(org_id) as session:
                user = await session.scalar(select(User).where(User.email == email))
                if user is not None:
                    roles = frozenset(
                        await session.scalars(select(Membership.role).where(Membership.user_id == user.id))
                    )
                sso_required = bool(
                    await session.scalar(select(Organization.sso_required).where(Organization.id == org_id))
                )
        # Always verify (against a dummy hash when there is no user) so timing does not reveal accounts.
        password_ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
        if org_id is None or user is None or not user.is_active or not roles or not password_ok:
            raise InvalidCredentials("Email, password or organization is not correct")
        # Said only after the password matched, so it reveals nothing to someone guessing. Admins keep their
        # password (break-glass: a broken identity provider must not lock the org out; docs/sso.md).
        if sso_required and "admin" not in roles:
            raise SsoRequired(
                'This organization signs in with single sign-on: use the "Sign in with" button for your '
                "organization instead of a password"
            )
        return await self._issue(
            org_id, user.id, roles, family_id=uuid.uuid4(), version=user.token_version, action="auth.login"
        )

    async def sign_in_federated(self, org_id: UUID, user_id: UUID, *, action: str) -> TokenPair:
        """A new login (token pair) for a user an outside identity provider has just vouched for: an LTI
        launch or an SSO sign-in (issue 16). No password; the user must be active and hold a role in the org.
        ``action`` names the door in the audit log (``lti.launch``, ``sso.oidc``, ``sso.saml``)."""
        async with self.db.transaction(org_id, user_id) as session:
            user = await session.get(User, user_id)
            roles = frozenset(
                await session.scalars(
                    select(Membership.role).where(Membership.user_id == user_id, Membership.org_id == org_id)
                )
            )
        if user is None or not user.is_active or not roles:
            raise NotAuthenticated("This account is not active in this organization")
        return await self._issue(
            org_id, user_id, roles, family_id=uuid.uuid4(), version=user.token_version, action=action
        )

    async def _issue(
        self,
        org_id: UUID,
        user_id: UUID,
        roles: frozenset[str],
        *,
        family_id: UUID,
        version: int,
        action: str,
        session: AsyncSession | None = None,
    ) -> TokenPair:
        """Sign a new pair and record the refresh token, inside ``session`` when the caller has one open
        (refresh rotation must commit the old token's rotation and the new token together)."""
        tokens = self.tokens
        refresh = tokens.issue("refresh", user_id=user_id, org_id=org_id, family_id=family_id, version=version)
        access = tokens.issue(
            "access", user_id=user_id, org_id=org_id, family_id=family_id, roles=roles, version=version
        )
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
        return TokenPair(
            access_token=access.token,
            refresh_token=refresh.token,
            expires_in=tokens.access_ttl,
            token_type="bearer",  # noqa: S106 - a scheme name, not a secret
        )

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
        claims = self.tokens.decode(refresh_token, "refresh")
        try:
            org_id, user_id = UUID(claims["org"]), UUID(claims["sub"])
            token_id, family_id = UUID(claims["jti"]), UUID(claims["fam"])
            version = token_version(claims)
        except (ValueError, TypeError) as exc:
            raise NotAuthenticated("The refresh token is not valid") from exc
        async with self.db.transaction(org_id, user_id) as session:
            row = await session.scalar(select(RefreshToken).where(RefreshToken.id == token_id).with_for_update())
            if row is None or row.revoked_at is not None:
                raise NotAuthenticated("The refresh token has been revoked; sign in again")
            if row.rotated_at is not None:
                # Tabs refreshing together: the same new pair, if this is the immediately previous token
                # and its rotation is seconds old. Otherwise a stolen copy came back: revoke the login.
                shared = await self._grace_pair(session, row)
                if shared is not None:
                    log.info("refresh_grace_reuse", family_id=str(family_id))
                    return shared
                await self._revoke_family(session, org_id, user_id, family_id)
                reused = True
            else:
                reused = False
                user = await session.get(User, user_id)
                roles = frozenset(await session.scalars(select(Membership.role).where(Membership.user_id == user_id)))
                # Membership is checked at every refresh: still active, still holding a role in this org.
                if user is None or not user.is_active or not roles:
                    raise NotAuthenticated("This account is no longer active in this organization")
                if version < user.token_version:  # issued before a password change, reset or deactivation
                    raise NotAuthenticated("The refresh token has been revoked; sign in again")
                row.rotated_at = datetime.now(UTC)
                # Rotation and the new token commit together: a failure leaves the old token usable.
                pair = await self._issue(
                    org_id,
                    user_id,
                    roles,
                    family_id=family_id,
                    version=user.token_version,
                    action="auth.refresh",
                    session=session,
                )
                # Remembered before the commit: a concurrent refresh with this token waits on the row lock
                # above and must find the pair as soon as it sees the rotation.
                await self._remember_pair(token_id, pair)
        if reused:  # committed above: the revocation must survive the error we now raise
            await self.denylist.invalidate(user_id)
            raise NotAuthenticated("This refresh token was already used; all sessions of this login are revoked")
        return pair

    def _grace_key(self, token_id: UUID) -> str:
        return f"{self.settings.redis_key_prefix}auth:grace:{token_id}"

    async def _remember_pair(self, token_id: UUID, pair: TokenPair) -> None:
        grace = self.settings.refresh_reuse_grace_seconds
        if grace <= 0:
            return
        successor = str(self.tokens.decode(pair.refresh_token or "", "refresh")["jti"])
        try:
            await self.redis.set(
                self._grace_key(token_id),
                msgspec.json.encode(_GracePair(successor=successor, pair=pair)),
                px=max(1, int(grace * 1000)),
            )
        except RedisError:  # no grace then: a concurrent refresh counts as reuse, as without the setting
            log.warning("refresh_grace_unavailable")

    async def _grace_pair(self, session: AsyncSession, row: RefreshToken) -> TokenPair | None:
        """The pair ``row`` was rotated into, when the rotation is within the grace window and that pair's
        refresh token is still the login's current one (unrotated, unrevoked); None otherwise."""
        grace = self.settings.refresh_reuse_grace_seconds
        if grace <= 0 or row.rotated_at is None:
            return None
        if (datetime.now(UTC) - row.rotated_at).total_seconds() > grace:
            return None
        try:
            raw = await self.redis.get(self._grace_key(row.id))
        except RedisError:
            return None
        if raw is None:
            return None
        try:
            kept = msgspec.json.decode(raw, type=_GracePair)
            successor_id = UUID(kept.successor)
        except (msgspec.DecodeError, ValueError):
            return None
        successor = await session.get(RefreshToken, successor_id)
        if (
            successor is None
            or successor.family_id != row.family_id
            or successor.rotated_at is not None
            or successor.revoked_at is not None
        ):
            return None
        return kept.pair

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
        """End this login (its token family): PostgreSQL first, so the logout holds even if Redis loses
        everything; then the cached state. Other logins of the same user continue."""
        async with self.db.transaction(principal.org_id, principal.user_id) as session:
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == UUID(principal.family_id), RefreshToken.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            record_audit_by(
                session,
                principal,
                action="auth.logout",
                entity_type="token_family",
                entity_id=principal.family_id,
                request_id=self.request_id,
            )
        await self.denylist.invalidate(principal.user_id)

    async def change_password(self, principal: Principal, current_password: str, new_password: str) -> TokenPair:
        """Change one's own password: the current one is required (a stolen access token alone must not be
        enough), every other login of the user ends in every org, and this login continues with the new
        tokens returned. Wrong current passwords are rate limited like logins."""
        await enforce(
            self.settings, self.limiter, "login", password_buckets(self.settings, principal.user_id), fail_open=False
        )
        async with self.db.transaction(principal.org_id, principal.user_id) as session:
            user = await session.get(User, principal.user_id)
            current_hash = user.password_hash if user else None
        if not await asyncio.to_thread(verify_password, current_hash, current_password):
            raise ValidationFailed(
                "The current password is not correct",
                errors=[{"pointer": "#/current_password", "detail": "is not correct"}],
            )
        new_hash = await asyncio.to_thread(hash_password, new_password)
        async with self.db.transaction(principal.org_id, principal.user_id) as session:
            user = await session.get(User, principal.user_id, with_for_update=True)
            if user is None or not user.is_active or user.password_hash != current_hash:
                # Deactivated, or the password changed meanwhile: the check above no longer stands.
                raise NotAuthenticated("The account changed meanwhile; sign in again")
            roles = frozenset(
                await session.scalars(select(Membership.role).where(Membership.user_id == principal.user_id))
            )
            if not roles:
                raise NotAuthenticated("This account is no longer active in this organization")
            user.password_hash = new_hash
            family = UUID(principal.family_id)
            version = await end_all_logins(session, principal.user_id, except_family=family)
            record_audit_by(
                session,
                principal,
                action="user.password_changed",
                entity_type="user",
                entity_id=principal.user_id,
                after={"other_logins_ended": True, "token_version": version},
                request_id=self.request_id,
            )
            pair = await self._issue(
                principal.org_id,
                principal.user_id,
                roles,
                family_id=family,
                version=version,
                action="auth.refresh",
                session=session,
            )
            notice = SecurityNotice(
                kind="password_changed",
                user_id=user.id,
                org_id=principal.org_id,
                email=user.email,
                name=user.name,
                actor_id=principal.user_id,
                at=datetime.now(UTC),
                request_id=self.request_id,
            )
        await self.denylist.invalidate(principal.user_id)
        await send_security_notice(self.settings.security_notify_hook, notice)
        return pair
