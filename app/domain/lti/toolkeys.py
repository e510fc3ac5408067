"""The tool's signing keys: one active RSA key (generated on first use), retired keys published for
``LYCEUM_LTI_KEY_GRACE_DAYS`` so platforms that cached the old key set still verify what it signed.

The keys are the deployment's, not an org's (every platform sees the same tool), so ``lti_tool_keys`` has no
``org_id`` and these functions run in a transaction with no tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import LtiToolKey
from app.lib.lti import keys
from app.lib.sealing import key_encryption_key

KEY_ATTEMPTS = 3


@dataclass(frozen=True)
class ToolSigningKey:
    kid: str
    private_key: RSAPrivateKey

    def jwk(self) -> Any:
        """A joserfc key for ``jwt.encode`` (carries kid and alg)."""
        return keys.signing_jwk(self.private_key, self.kid)


def _open(settings: Settings, row: LtiToolKey) -> ToolSigningKey:
    private = keys.open_key(bytes(row.private_key_sealed), key_encryption_key(settings), row.kid)
    return ToolSigningKey(kid=row.kid, private_key=private)


async def _active(session: AsyncSession) -> LtiToolKey | None:
    return await session.scalar(select(LtiToolKey).where(LtiToolKey.active.is_(True)))


async def _insert(session: AsyncSession, settings: Settings) -> LtiToolKey:
    private = keys.generate_key()
    kid = keys.new_kid()
    row = LtiToolKey(
        kid=kid,
        public_jwk=keys.public_jwk(private, kid),
        private_key_sealed=keys.seal_key(private, key_encryption_key(settings), kid),
        active=True,
        retired_at=None,
    )
    session.add(row)
    await session.flush()
    return row


async def active_key(session: AsyncSession, settings: Settings) -> ToolSigningKey:
    """The active key, generated on first use; concurrent first uses converge on one key (the partial
    unique index makes the loser's insert fail inside its savepoint; it then reads the winner's)."""
    for _ in range(KEY_ATTEMPTS):
        row = await _active(session)
        if row is not None:
            return _open(settings, row)
        try:
            async with session.begin_nested():
                row = await _insert(session, settings)
        except IntegrityError:
            continue
        return _open(settings, row)
    raise RuntimeError("could not create or read the LTI tool key")  # pragma: no cover - needs 3 lost races


async def rotate(session: AsyncSession, settings: Settings) -> tuple[str | None, str]:
    """Retire the active key (published for the grace period) and activate a new one: (old kid, new kid)."""
    await session.execute(text("select pg_advisory_xact_lock(hashtextextended('lyceum:lti_tool_keys', 0))"))
    retired: str | None = None
    for _ in range(KEY_ATTEMPTS):
        old = await _active(session)
        if old is not None:
            old.active = False
            old.retired_at = datetime.now(UTC)
            await session.flush()
            retired = old.kid
        try:
            async with session.begin_nested():
                row = await _insert(session, settings)
        except IntegrityError:
            continue
        return retired, row.kid
    raise RuntimeError("could not rotate the LTI tool key")  # pragma: no cover


async def published_jwks(session: AsyncSession, settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """``{"keys": [...]}``: the active key (created if there is none yet) and keys retired within the grace."""
    await active_key(session, settings)
    cutoff = datetime.now(UTC) - timedelta(days=settings.lti_key_grace_days)
    rows = await session.scalars(
        select(LtiToolKey)
        .where(or_(LtiToolKey.active.is_(True), LtiToolKey.retired_at >= cutoff))
        .order_by(LtiToolKey.active.desc(), LtiToolKey.created_at.desc())
    )
    return {"keys": [dict(row.public_jwk) for row in rows]}
