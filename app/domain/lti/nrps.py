"""Roster sync (NRPS 2.0): read a linked context's memberships from the platform and provision them.

The pages are fetched first (following ``Link: <...>; rel="next"``, at most ``MAX_PAGES``), then applied in
one transaction of the registration's org through ``app/domain/lti/provisioning.py``: users created or
their role updated, members recorded, learners enrolled in the linked course. Members the platform lists
as Inactive/Deleted, and (only after a complete sync: every page read) members it no longer lists, become
inactive and their enrolments are withdrawn: never deleted, their progress and grades stay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import httpx
import structlog
from redis.exceptions import RedisError
from saq import Queue
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import Database
from app.db.models import DeadLetter, LtiContext, LtiContextMember, LtiPlatform, LtiUser
from app.domain.lti.provisioning import LtiPerson, ensure_member, ensure_user, set_enrollment
from app.domain.lti.service_token import ServiceTokens, TokenTarget
from app.lib.jobs import lti_roster_job_key
from app.lib.lti import nrps
from app.lib.lti.http import PlatformHttp, PlatformHttpError, UnsafeUrl

log = structlog.get_logger("lyceum.lti")

MAX_PAGES = 200  # a runaway (or hostile) next-link chain stops here; the sync then counts as incomplete


class PermanentSyncFailure(Exception):
    """A failure a retry cannot fix (no roster service, a refused URL, a 4xx other than 429)."""


@dataclass(frozen=True)
class RosterReport:
    members: int  # listed by the platform
    created: int  # users provisioned for the first time
    deactivated: int  # members now inactive (listed as inactive, or no longer listed)
    pages: int
    complete: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "members": self.members,
            "created": self.created,
            "deactivated": self.deactivated,
            "pages": self.pages,
            "complete": self.complete,
        }


class RosterSync:
    """Syncs the rosters of one org's contexts (the ``lti_sync_roster`` job's work)."""

    def __init__(self, db: Database, org_id: UUID, *, tokens: ServiceTokens, http: PlatformHttp, settings: Settings):
        self.db = db
        self.org_id = org_id
        self.tokens = tokens
        self.http = http
        self.settings = settings

    async def sync(self, context_pk: UUID) -> RosterReport | None:
        """None when the context is gone or has no roster service any more."""
        async with self.db.transaction(self.org_id) as session:
            found = (
                await session.execute(
                    select(LtiContext, LtiPlatform)
                    .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
                    .where(LtiContext.id == context_pk)
                )
            ).one_or_none()
            if found is None or not found[0].nrps_url:
                return None
            url, target = found[0].nrps_url, TokenTarget.of(found[1])
        members, pages, complete = await self._fetch(url, target)
        async with self.db.transaction(self.org_id) as session:
            return await self._apply(session, context_pk, members, pages=pages, complete=complete)

    async def _fetch(self, url: str, target: TokenTarget) -> tuple[list[nrps.Member], int, bool]:
        scopes = (nrps.SCOPE_MEMBERSHIP_READONLY,)
        members: list[nrps.Member] = []
        next_url: str | None = url
        pages = 0
        while next_url is not None and pages < MAX_PAGES:
            response = await self._get(next_url, target, scopes)
            try:
                page = nrps.parse_membership_container(response.json())
            except ValueError as exc:  # not JSON, or not a container: the platform's fault, not transient
                raise PermanentSyncFailure(f"page {pages + 1} is not a membership container: {exc}") from exc
            members.extend(page)
            pages += 1
            next_url = nrps.next_page(response.headers.get("Link"), base=next_url)
        complete = next_url is None
        if not complete:
            log.warning("lti_roster_truncated", pages=pages, members=len(members))
        return members, pages, complete

    async def _get(self, url: str, target: TokenTarget, scopes: tuple[str, ...]) -> httpx.Response:
        for attempt in (1, 2):
            try:  # the token request's failures count as the call's: a 401 there is a bad registration
                token = await self.tokens.token(target, scopes)
                headers = {"Authorization": f"Bearer {token}", "Accept": nrps.MEMBERSHIP_MEDIA_TYPE}
                return await self.http.request("GET", url, headers=headers)
            except UnsafeUrl as exc:
                raise PermanentSyncFailure(f"refused platform URL: {exc}") from exc
            except PlatformHttpError as exc:
                if exc.status == 401 and attempt == 1:
                    await self.tokens.forget(target, scopes)
                    continue
                if not exc.retryable:
                    raise PermanentSyncFailure(str(exc)) from exc
                raise
        raise PermanentSyncFailure("the platform refused a fresh access token")  # pragma: no cover

    async def _apply(
        self, session: AsyncSession, context_pk: UUID, members: list[nrps.Member], *, pages: int, complete: bool
    ) -> RosterReport | None:
        context = await session.get(LtiContext, context_pk, with_for_update=True)
        if context is None:
            return None
        platform = await session.get(LtiPlatform, context.platform_id)
        assert platform is not None
        listed: set[UUID] = set()
        created = deactivated = 0
        seen: set[str] = set()
        for member in members:
            if member.user_id in seen:  # a platform repeating someone across pages: the first entry counts
                continue
            seen.add(member.user_id)
            if not member.active:
                known = await session.scalar(
                    select(LtiUser.id).where(LtiUser.platform_id == platform.id, LtiUser.sub == member.user_id)
                )
                if known is None:
                    continue  # never provision someone only to record that they left
            person = LtiPerson(
                sub=member.user_id,
                name=member.name,
                given_name=member.given_name,
                family_name=member.family_name,
                email=member.email,
                roles=member.roles,
            )
            provisioned = await ensure_user(session, platform, person)
            created += provisioned.created
            await ensure_member(session, context, provisioned, member.roles, active=member.active)
            deactivated += not member.active
            listed.add(provisioned.lti_user_pk)
        if complete:
            deactivated += await self._deactivate_absent(session, context, listed)
        context.roster_synced_at = datetime.now(UTC)
        report = RosterReport(
            members=len(seen), created=created, deactivated=deactivated, pages=pages, complete=complete
        )
        log.info("lti_roster_synced", context_pk=str(context_pk), **report.as_dict())
        return report

    async def _deactivate_absent(self, session: AsyncSession, context: LtiContext, listed: set[UUID]) -> int:
        """Members the platform no longer lists: inactive, enrolment withdrawn (learners only have one)."""
        rows = (
            await session.execute(
                select(LtiContextMember, LtiUser.user_id)
                .join(LtiUser, LtiUser.id == LtiContextMember.lti_user_pk)
                .where(LtiContextMember.context_pk == context.id, LtiContextMember.active.is_(True))
            )
        ).all()
        count = 0
        for member, user_id in rows:
            if member.lti_user_pk in listed:
                continue
            member.active = False
            count += 1
            if context.course_id is not None:
                await set_enrollment(session, context.org_id, user_id, context.course_id, active=False)
        return count

    async def dead_letter(self, context_pk: UUID, attempts: int, reason: str) -> None:
        async with self.db.transaction(self.org_id) as session:
            log.error("lti_roster_failed", context_pk=str(context_pk), reason=reason)
            session.add(
                DeadLetter(
                    org_id=self.org_id,
                    job_key=lti_roster_job_key(context_pk),
                    function="lti_sync_roster",
                    attempts=attempts,
                    reason=reason[:4000],
                    payload={"context_pk": str(context_pk)},
                )
            )


async def enqueue_roster_sync(queue: Queue, settings: Settings, org_id: UUID, context_pk: UUID) -> bool:
    """Queue one context's roster sync; False when one is already queued or running (or Redis is down)."""
    try:
        job = await queue.enqueue(
            "lti_sync_roster",
            key=lti_roster_job_key(context_pk),
            org_id=str(org_id),
            context_pk=str(context_pk),
            retries=settings.lti_retries,
            retry_delay=2.0,
            retry_backoff=120.0,
            timeout=600,  # many pages and many members; the heartbeat tells a live sync from a dead one
            heartbeat=settings.grading_heartbeat_seconds,
        )
    except (RedisError, OSError) as exc:
        log.warning("lti_roster_enqueue_failed", context_pk=str(context_pk), error=str(exc))
        return False
    return job is not None


async def contexts_with_roster(db: Database, limit: int) -> list[tuple[UUID, UUID]]:
    """(context, org) of every context with a roster service, all orgs, least recently synced first."""
    async with db.transaction(None) as session:
        rows = (await session.execute(text("select * from lyceum_lti_contexts_with_roster(:n)"), {"n": limit})).all()
    return [(row[0], row[1]) for row in rows]


__all__ = ["PermanentSyncFailure", "RosterReport", "RosterSync", "contexts_with_roster", "enqueue_roster_sync"]
