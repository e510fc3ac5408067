"""Reads a user's revocation state from PostgreSQL, the source of truth the token check caches
(``app.lib.security.denylist``), and the changes that raise a user's token version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import Database
from app.db.models import Membership, RefreshToken, User
from app.lib.security.denylist import AuthState, TokenDenylist

# Revoked logins are remembered for one access-token lifetime plus this margin (clock skew between
# instances): a family revoked earlier has no access token left that could still be presented.
SKEW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class AuthStateReader:
    """The loader handed to ``TokenDenylist``: one short RLS transaction (org and user set), one query."""

    db: Database
    access_ttl_seconds: int

    async def __call__(self, org_id: UUID, user_id: UUID) -> AuthState:
        since = datetime.now(UTC) - timedelta(seconds=self.access_ttl_seconds + SKEW_SECONDS)
        roles = (
            select(func.coalesce(func.array_agg(Membership.role), []))
            .where(Membership.user_id == User.id)
            .scalar_subquery()
        )
        families = (
            select(func.coalesce(func.array_agg(RefreshToken.family_id.distinct()), []))
            .where(RefreshToken.user_id == User.id, RefreshToken.revoked_at > since)
            .scalar_subquery()
        )
        async with self.db.transaction(org_id, user_id) as session:
            # RLS: memberships and refresh tokens of this org only; the user row is visible as the caller.
            row = (
                await session.execute(
                    select(User.token_version, User.is_active, roles, families).where(User.id == user_id)
                )
            ).first()
        if row is None:
            return AuthState(version=0, active=False, roles=frozenset(), revoked_families=frozenset())
        version, is_active, held, revoked = row
        return AuthState(
            version=int(version),
            active=bool(is_active) and bool(held),
            roles=frozenset(held or ()),
            revoked_families=frozenset(str(family) for family in revoked or ()),
        )


async def end_all_logins(session: AsyncSession, user_id: UUID, *, except_family: UUID | None = None) -> int:
    """Raise the user's token version (every token issued before stops working, in every org) and mark
    their refresh tokens in the current org revoked. Returns the new version. The caller commits and then
    invalidates the cached state (``TokenDenylist.invalidate``)."""
    bump = update(User).where(User.id == user_id).values(token_version=User.token_version + 1)
    version = await session.scalar(bump.returning(User.token_version))
    revoke = update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    if except_family is not None:
        # The caller's own login continues with the new tokens it is about to be given (same family, new
        # version). Its old refresh token is dead by its version; revoking the row would mark the whole
        # family revoked and end the new tokens too.
        revoke = revoke.where(RefreshToken.family_id != except_family)
    await session.execute(revoke.values(revoked_at=datetime.now(UTC)))
    return int(version or 0)


def build_denylist(settings: Settings, redis: Redis, db: Database) -> TokenDenylist:
    """The token check's revocation cache: Redis caches, PostgreSQL decides (the app's components and the
    operator's ``lyceum erase user`` build it the same way)."""
    return TokenDenylist(
        redis,
        settings.redis_key_prefix,
        AuthStateReader(db, settings.access_token_ttl_seconds),
        settings.auth_cache_seconds,
    )
