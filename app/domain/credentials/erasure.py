"""A person's credentials when the person is erased (docs/data-handling.md, "Erasure").

Each credential still active is revoked: its bit is set in the org's status list, the list is re-signed,
and a ``credential.revoked`` event goes to webhook receivers, so every verifier learns the credential no
longer stands. The name the learner chose to show on the public page (``display_name``) is cleared. The
signed document stays, as a revoked credential's does: it names the learner by a DID or a salted email
hash only, never by name, and its public page now says "revoked"."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Credential
from app.domain.credentials.status import lock_status_list, sign_status_list
from app.domain.webhooks.outbox import record_event
from app.lib.event_payloads import CredentialRevoked

ERASURE_REASON = "The holder's personal data was erased."


async def revoke_for_erasure(session: AsyncSession, settings: Settings, user_id: UUID) -> int:
    """In the org of ``session`` (RLS): revoke the person's active credentials and clear every display
    name; how many were revoked. Run again (an erasure is sent again), it revokes nothing more."""
    credentials = (
        await session.scalars(
            select(Credential).where(Credential.user_id == user_id).order_by(Credential.id).with_for_update()
        )
    ).all()
    now = datetime.now(UTC)
    revoked: list[Credential] = []
    for credential in credentials:
        credential.display_name = ""
        if credential.status != "revoked":
            credential.status, credential.revoked_at, credential.revocation_reason = "revoked", now, ERASURE_REASON
            revoked.append(credential)
    await session.flush()
    # Rows first, then each list once, in one order: the same lock order as a revocation by staff.
    for list_id in sorted({c.status_list_id for c in revoked if c.status_list_id is not None}):
        status_list = await lock_status_list(session, list_id)
        if status_list is not None:
            await sign_status_list(session, settings, status_list)
    for credential in revoked:
        event = CredentialRevoked(
            credential_id=credential.id, course_id=credential.course_id, user_id=user_id, reason=ERASURE_REASON
        )
        await record_event(session, credential.org_id, event)
    return len(revoked)
