"""The public side of an invitation (``/invite/<token>``): what it is for, and accepting it with a name and
password, which creates the account, gives it the invited role and signs the person in.

No principal exists yet: the token's hash finds the invitation and its org through a definer function
(ids only, migration 0020), and everything else runs in that org's transaction under row-level security.
Both routes are rate limited like sign-in (per token, and the global sign-in bucket), so the token space
cannot be searched through them."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.db.engine import Database
from app.db.models import Invitation, Membership, Organization, User
from app.domain.accounts.services import checked_name
from app.domain.audit.services import record_audit
from app.domain.auth.schemas import TokenPair
from app.domain.auth.services import AuthService, SsoRequired
from app.domain.orgadmin.invitations import invitation_status, token_hash
from app.domain.orgadmin.schemas import InvitationAccept, InvitationPreview
from app.lib.errors import Conflict, LyceumError, NotFound
from app.lib.ratelimit import TokenBucketLimiter
from app.lib.security.passwords import hash_password
from app.lib.throttle import enforce, invitation_buckets


class InvitationGone(LyceumError):
    status, slug, title = 410, "invitation-gone", "This invitation can no longer be used"


_GONE = {
    "accepted": "This invitation has already been used. Sign in instead, or ask your admin for a new one",
    "revoked": "This invitation was withdrawn by an admin. Ask them for a new one if you still need access",
    "expired": "This invitation has expired. Ask your admin to send it again",
}
_UNKNOWN = "This invitation link is not valid. Check that you copied all of it, or ask your admin for a new one"


@dataclass(eq=False, repr=False)
class InvitationAcceptance:
    db: Database
    request_id: str = ""
    _: KW_ONLY
    settings: Settings
    limiter: TokenBucketLimiter
    auth: AuthService

    async def _find(self, token: str) -> tuple[UUID, UUID]:
        await enforce(self.settings, self.limiter, "login", invitation_buckets(self.settings, token), fail_open=False)
        async with self.db.transaction(None) as session:
            found = (
                await session.execute(
                    text("select invitation_id, org_id from lyceum_invitation_by_token(:hash)"),
                    {"hash": token_hash(token)},
                )
            ).first()
        if found is None:
            raise NotFound(_UNKNOWN)
        return found.invitation_id, found.org_id

    @staticmethod
    def _usable(row: Invitation | None) -> Invitation:
        if row is None:
            raise NotFound(_UNKNOWN)
        status = invitation_status(row, datetime.now(UTC))
        if status != "pending":
            raise InvitationGone(_GONE[status], extra={"reason": status})
        return row

    async def preview(self, token: str) -> InvitationPreview:
        invitation_id, org_id = await self._find(token)
        async with self.db.transaction(org_id) as session:
            row = self._usable(await session.get(Invitation, invitation_id))
            org = await session.get(Organization, org_id)
            assert org is not None  # the invitation's foreign key
            return InvitationPreview(
                org=org.slug,
                org_name=org.name,
                email=row.email,
                role=row.role,
                expires_at=row.expires_at,
                sso_required=org.sso_required and row.role != "admin",
            )

    async def accept(self, data: InvitationAccept) -> TokenPair:
        name = checked_name(data.name)
        invitation_id, org_id = await self._find(data.token)
        password_hash = await asyncio.to_thread(hash_password, data.password)
        user_id = uuid.uuid4()
        async with self.db.transaction(org_id) as session:
            row = self._usable(await session.get(Invitation, invitation_id, with_for_update=True))
            org = await session.get(Organization, org_id)
            assert org is not None
            if org.sso_required and row.role != "admin":
                raise SsoRequired(
                    "This organization signs in with single sign-on: continue with your organization's sign-in "
                    "instead of setting a password"
                )
            # RLS shows only this org's members: an address that is already one cannot join twice.
            if await session.scalar(select(User.id).where(User.email == row.email)) is not None:
                raise Conflict(
                    f"{row.email} already has an account in this organization: sign in with it instead",
                    extra={"code": "already-member"},
                )
            try:
                async with session.begin_nested():
                    await session.execute(
                        insert(User).values(
                            id=user_id, email=row.email, name=name, password_hash=password_hash, is_active=True
                        )
                    )
            except IntegrityError as exc:
                # The identity exists in another org (invisible here). Setting its password from a link would
                # take over that account, so joining needs the person's existing sign-in (not built yet).
                raise Conflict(
                    f"{row.email} already has a Lyceum account in another organization; joining with it is not "
                    "supported yet. Ask your admin to invite a different address",
                    extra={"code": "account-elsewhere"},
                ) from exc
            session.add(Membership(org_id=org_id, user_id=user_id, role=row.role))
            row.accepted_at = datetime.now(UTC)
            row.accepted_user_id = user_id
            await session.flush()
            record_audit(
                session,
                org_id=org_id,
                actor_id=user_id,
                action="invitation.accepted",
                entity_type="invitation",
                entity_id=row.id,
                after={"email": row.email, "role": row.role, "user_id": str(user_id)},
                request_id=self.request_id,
            )
        return await self.auth.sign_in_federated(org_id, user_id, action="auth.invitation")
