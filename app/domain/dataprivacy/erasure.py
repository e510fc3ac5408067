"""Erasure of a person ("delete my data", issue 18 item 5).

A person is one global ``users`` row with memberships in one or more orgs. Erasure runs in each org they
belong to, in that org's own RLS transaction (``erase_in_org``): their free text is overwritten, their
transcripts marked purged, their projections, review cards, SSO and LTI links, invitations and exports
deleted, their logins ended, and a ``user_erased`` redaction event plus a ``user.erased`` audit entry (ids and
counts only) recorded. The org's older audit entries that quote their email or name are then redacted by the
definer function ``lyceum_redact_erased_user`` (the only way the application role can change ``audit_log``;
migration 0026). Last, the ``users`` row is pseudonymised. Files (transcripts no other row shows, exports)
are deleted after the commits.

What stays: the ``users`` row (pseudonymised, inactive), memberships (so the org's lists show "Erased
user"), enrollments, ``progress_events`` (append-only, they point at the pseudonymised row), the rows'
metrics, and issued credentials, revoked, with the name shown on their public page cleared (see
docs/data-handling.md)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import Database
from app.db.models import (
    AIFeedback,
    AIInteraction,
    DataExport,
    Enrollment,
    Grade,
    Invitation,
    LtiUser,
    MasteryEstimate,
    Membership,
    ProjectionCheckpoint,
    RedactionEvent,
    ReviewCard,
    ReviewDueCount,
    ReviewItem,
    ReviewLog,
    SsoIdentity,
    Submission,
    User,
)
from app.domain.accounts.services import LastAdmin, ensure_active_admin_remains
from app.domain.audit.services import record_audit
from app.domain.auth.revocation import end_all_logins
from app.domain.credentials.erasure import revoke_for_erasure
from app.domain.dataprivacy.objects import delete_objects, unreferenced
from app.domain.dataprivacy.schemas import ErasureSummary
from app.lib.errors import Conflict, NotFound, ValidationFailed
from app.lib.objectstore import ObjectStore
from app.lib.ratelimit.limiter import TokenBucketLimiter
from app.lib.security.denylist import TokenDenylist
from app.lib.security.passwords import verify_password
from app.lib.security.principal import Principal
from app.lib.throttle import enforce, password_buckets

ERASED_NAME = "Erased user"
ERASED_TEXT = "[erased]"
ERASED_JSON: dict[str, Any] = {"erased": True}


class ErasureRefused(Conflict):
    slug, title = "erasure-refused", "This person cannot be erased here"


def erased_email(user_id: UUID) -> str:
    """Unique (``users.email`` is) and undeliverable (RFC 2606 ``.invalid``)."""
    return f"erased-{user_id}@erased.invalid"


@dataclass
class _OrgResult:
    counts: dict[str, int]
    transcript_keys: list[str] = field(default_factory=list)
    export_keys: list[str] = field(default_factory=list)


async def _count(session: AsyncSession, statement: Any) -> int:
    return int((await session.execute(statement)).rowcount or 0)  # type: ignore[attr-defined]


async def erase_in_org(
    session: AsyncSession,
    settings: Settings,
    org_id: UUID,
    user_id: UUID,
    requested_by: UUID,
    email: str,
    name: str,
    request_id: str,
) -> _OrgResult:
    """Everything of the person in the org of ``session`` (RLS-scoped to it)."""
    now = datetime.now(UTC)
    own_submissions = select(Submission.id).where(Submission.user_id == user_id)
    own_enrollments = select(Enrollment.id).where(Enrollment.user_id == user_id)
    counts: dict[str, int] = {}
    counts["submissions"] = await _count(
        session, update(Submission).where(Submission.user_id == user_id).values(answer=ERASED_JSON)
    )
    counts["grades"] = await _count(
        session,
        update(Grade)
        .where(Grade.submission_id.in_(own_submissions))
        .values(feedback=ERASED_TEXT, rationale=ERASED_JSON),
    )
    counts["review_items"] = await _count(
        session,
        update(ReviewItem)
        .where(ReviewItem.submission_id.in_(own_submissions))
        .values(dispute_reason="", decision_reason=""),
    )
    counts["ai_feedback"] = await _count(
        session, update(AIFeedback).where(AIFeedback.user_id == user_id).values(comment="")
    )
    keys = await session.scalars(
        update(AIInteraction)
        .where(AIInteraction.user_id == user_id, AIInteraction.content_purged_at.is_(None))
        .values(content_purged_at=now)
        .returning(AIInteraction.object_key)
    )
    transcript_keys = list(keys.all())
    counts["transcripts"] = len(transcript_keys)
    counts["mastery_estimates"] = await _count(
        session, delete(MasteryEstimate).where(MasteryEstimate.user_id == user_id)
    )
    await session.execute(delete(ProjectionCheckpoint).where(ProjectionCheckpoint.stream_id.in_(own_enrollments)))
    await session.execute(delete(ReviewLog).where(ReviewLog.user_id == user_id))
    await session.execute(delete(ReviewDueCount).where(ReviewDueCount.user_id == user_id))
    counts["review_cards"] = await _count(session, delete(ReviewCard).where(ReviewCard.user_id == user_id))
    counts["sso_identities"] = await _count(session, delete(SsoIdentity).where(SsoIdentity.user_id == user_id))
    counts["lti_links"] = await _count(session, delete(LtiUser).where(LtiUser.user_id == user_id))  # members cascade
    counts["invitations"] = await _count(
        session, delete(Invitation).where(func.lower(Invitation.email) == email.lower())
    )
    exports = await session.scalars(
        delete(DataExport).where(DataExport.user_id == user_id).returning(DataExport.object_key)
    )
    export_keys = [key for key in exports.all() if key]
    counts["data_exports"] = len(export_keys)
    # Verifiers learn the credentials no longer stand; their public pages show no chosen name.
    counts["credentials_revoked"] = await revoke_for_erasure(session, settings, user_id)
    await end_all_logins(session, user_id)
    session.add(
        RedactionEvent(org_id=org_id, user_id=user_id, kind="user_erased", requested_by=requested_by, detail=counts)
    )
    await session.flush()
    counts["audit_entries_redacted"] = int(
        await session.scalar(
            text("select lyceum_redact_erased_user(:u, :e, :n)"), {"u": user_id, "e": email, "n": name}
        )
        or 0
    )
    record_audit(
        session,
        org_id=org_id,
        actor_id=requested_by,
        action="user.erased",
        entity_type="user",
        entity_id=user_id,
        after=dict(counts),
        request_id=request_id,
    )
    return _OrgResult(counts, transcript_keys, export_keys)


async def pseudonymise(session: AsyncSession, user_id: UUID) -> None:
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            email=erased_email(user_id),
            name=ERASED_NAME,
            password_hash=None,
            is_active=False,
            credential_did=None,
            token_version=User.token_version + 1,
        )
    )


@dataclass(eq=False, repr=False, kw_only=True)
class ErasureService:
    """Erases people; built per request (``deps.py``). Holds the whole database, not one tenant's: a person
    who erases themselves is erased in every org they belong to, each under that org's RLS."""

    db: Database
    settings: Settings
    objects: ObjectStore
    denylist: TokenDenylist
    limiter: TokenBucketLimiter
    request_id: str = ""

    async def erase_self(self, principal: Principal, current_password: str | None) -> ErasureSummary:
        await enforce(
            self.settings, self.limiter, "login", password_buckets(self.settings, principal.user_id), fail_open=False
        )
        async with self.db.transaction(principal.org_id, principal.user_id) as session:
            user = await session.get(User, principal.user_id)
            if user is None:
                raise NotFound("Your account no longer exists")
            password_hash = user.password_hash
            orgs = [
                row[0]
                for row in await session.execute(
                    text("select org_id from lyceum_user_org_ids(:u)"), {"u": principal.user_id}
                )
            ]
        wrong = password_hash is not None and (
            not current_password or not await asyncio.to_thread(verify_password, password_hash, current_password)
        )
        if wrong:
            raise ValidationFailed(
                "The current password is not correct",
                errors=[{"pointer": "#/current_password", "detail": "is not correct"}],
            )
        return await self._erase(principal.user_id, principal.user_id, orgs, principal.org_id)

    async def erase_by_admin(self, principal: Principal, user_id: UUID) -> ErasureSummary:
        if user_id == principal.user_id:
            raise ErasureRefused("Erase your own account with POST /v1/me/erasure")
        async with self.db.transaction(principal.org_id, principal.user_id) as session:
            if await session.get(User, user_id) is None:  # RLS: members of this org only
                raise NotFound("No such user in this organization")
            orgs = int(await session.scalar(text("select lyceum_user_org_count(:u)"), {"u": user_id}) or 0)
        if orgs > 1:
            raise ErasureRefused("This person also belongs to another organization: only they can erase their account")
        return await self._erase(user_id, principal.user_id, [principal.org_id], principal.org_id)

    async def erase_on_behalf_of(self, user_id: UUID, orgs: list[UUID]) -> ErasureSummary:
        """The operator's erasure (``lyceum erase user``, operator.py): in every org of ``orgs``, the person
        named as the actor (the operator acts for them and has no account inside an org)."""
        return await self._erase(user_id, user_id, orgs, orgs[0])

    async def _ensure_admin_remains(self, session: AsyncSession, org_id: UUID, user_id: UUID) -> None:
        is_admin = await session.scalar(
            select(func.count()).where(Membership.user_id == user_id, Membership.role == "admin")
        )
        if is_admin:
            try:
                await ensure_active_admin_remains(session, org_id, user_id)
            except LastAdmin as exc:
                raise ErasureRefused(str(exc)) from exc

    async def _erase(self, user_id: UUID, requested_by: UUID, orgs: list[UUID], home: UUID) -> ErasureSummary:
        # Check every org first, so a refusal in one leaves every org untouched.
        async with self.db.transaction(home, requested_by) as session:
            user = await session.get(User, user_id)
            if user is None:
                raise NotFound("No such user")
            email, name = user.email, user.name
        for org_id in orgs:
            async with self.db.transaction(org_id, requested_by) as session:
                await self._ensure_admin_remains(session, org_id, user_id)
        totals: dict[str, int] = {}
        transcript_files = 0
        export_keys: list[str] = []
        for org_id in orgs:
            async with self.db.transaction(org_id, requested_by) as session:
                await self._ensure_admin_remains(session, org_id, user_id)
                result = await erase_in_org(
                    session, self.settings, org_id, user_id, requested_by, email, name, self.request_id
                )
            for key, value in result.counts.items():
                totals[key] = totals.get(key, 0) + value
            gone = await unreferenced(self.db, org_id, result.transcript_keys)
            transcript_files += await delete_objects(self.objects, gone)
            export_keys.extend(result.export_keys)
        async with self.db.transaction(home, requested_by) as session:
            await pseudonymise(session, user_id)
        await delete_objects(self.objects, export_keys)
        await self.denylist.invalidate(user_id)
        return ErasureSummary(user_id=str(user_id), orgs=len(orgs), transcript_files_deleted=transcript_files, **totals)
