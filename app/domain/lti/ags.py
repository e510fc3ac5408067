"""Grade passback (AGS 2.0) as an outbox: the grading transaction writes what the platform is owed
(``lti_score_posts``), a SAQ job delivers it, a sweep re-queues whatever lost its job.

- ``record_scores`` (inside the transaction that grades, escalates or decides): one row per resource link
  of the item that the learner reached through LTI. ``PendingManual`` when the submission waits for a
  person, ``FullyGraded`` with the score when it is final. A later final grade (a reviewer's override of a
  sampled grade) replaces the FullyGraded row: a new id, so a new job, with a newer timestamp.
- ``enqueue_scores`` (after the commit): one ``lti_post_score`` job per row, keyed by the row's id.
- ``ScorePoster.post`` (the job): creates the link's line item when it has none, then POSTs the score.
  Posts of one (submission, link) are serialized by an advisory lock, and a PendingManual post whose
  FullyGraded sibling exists is not sent: a stale "pending" can never overtake the final grade. The
  score's timestamp is when the grade was recorded, so a platform that orders by timestamp agrees.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from redis.exceptions import RedisError
from saq import Queue
from sqlalchemy import delete, exists, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import Database
from app.db.models import (
    Assessment,
    DeadLetter,
    Grade,
    LtiContext,
    LtiContextMember,
    LtiPlatform,
    LtiResourceLink,
    LtiScorePost,
    LtiUser,
    Submission,
)
from app.domain.lti.service_token import ServiceTokens, TokenTarget
from app.lib.jobs import lti_score_job_key
from app.lib.lti import ags
from app.lib.lti.http import PlatformHttp, PlatformHttpError, UnsafeUrl

log = structlog.get_logger("lyceum.lti")

DEFAULT_SCORE_MAXIMUM = 1.0  # a link with no line item maximum (the launch stores the platform's when sent)
SUPERSEDED = "superseded: the FullyGraded score of this submission and link was recorded; not sent"
# A row whose jobs keep dying (the worker killed mid-post, again and again) stops being re-queued.
ABANDON_FACTOR = 3


class PermanentPostFailure(Exception):
    """A failure a retry cannot fix (a 4xx other than 429, a refused URL, no line item to post to)."""


# ---------------------------------------------------------------------------------------------- the outbox


async def record_scores(
    session: AsyncSession, submission: Submission, assessment: Assessment, grade: Grade | None
) -> tuple[tuple[UUID, UUID], ...]:
    """Write the score posts this grading step owes LMS platforms, in the caller's transaction; returns the
    (org, score post) pairs to ``enqueue_scores`` after the commit. One statement when the learner never
    came through LTI.

    ``submission.status`` decides: ``graded`` with a grade -> FullyGraded; ``in_review`` -> PendingManual;
    anything else owes nothing."""
    if submission.status == "graded" and grade is not None:
        progress = ags.FULLY_GRADED
    elif submission.status == "in_review":
        progress = ags.PENDING_MANUAL
    else:
        return ()
    links = await _links_of(session, submission.user_id, assessment.item_id)
    posts: list[tuple[UUID, UUID]] = []
    for link, lti_user_pk in links:
        score_maximum = link.score_maximum if link.score_maximum and link.score_maximum > 0 else DEFAULT_SCORE_MAXIMUM
        score_given = None
        if progress == ags.FULLY_GRADED:
            assert grade is not None
            score_given = ags.scaled_score(grade.score, grade.max_score, score_maximum)
            # A newer final grade replaces the old row (and its job, if one is still waiting: it finds no row).
            await session.execute(
                delete(LtiScorePost).where(
                    LtiScorePost.submission_id == submission.id,
                    LtiScorePost.resource_link_pk == link.id,
                    LtiScorePost.grading_progress == ags.FULLY_GRADED,
                )
            )
        elif await _has_final(session, submission.id, link.id):
            continue  # the final grade is already owed: "pending" would only confuse the gradebook
        post_id = await session.scalar(
            insert(LtiScorePost)
            .values(
                org_id=submission.org_id,
                submission_id=submission.id,
                resource_link_pk=link.id,
                lti_user_pk=lti_user_pk,
                score_given=score_given,
                score_maximum=score_maximum,
                activity_progress="Completed" if progress == ags.FULLY_GRADED else "Submitted",
                grading_progress=progress,
                status="pending",
                attempts=0,
                last_error="",
            )
            .on_conflict_do_nothing(index_elements=["submission_id", "resource_link_pk", "grading_progress"])
            .returning(LtiScorePost.id)
        )
        if post_id is not None:
            posts.append((submission.org_id, post_id))
    return tuple(posts)


async def _links_of(session: AsyncSession, user_id: UUID, item_id: UUID) -> list[tuple[LtiResourceLink, UUID]]:
    """(link, LTI user) for every placement of ``item_id`` on a platform where ``user_id`` is an LTI user and,
    when the link has a context, an active member of it; only links with somewhere to post (their own line
    item, or the context's line items container to create one in) on a platform that granted the score scope."""
    member = exists().where(
        LtiContextMember.context_pk == LtiResourceLink.context_pk,
        LtiContextMember.lti_user_pk == LtiUser.id,
        LtiContextMember.active.is_(True),
    )
    query = (
        select(LtiResourceLink, LtiUser.id)
        .join(LtiUser, LtiUser.platform_id == LtiResourceLink.platform_id)
        .outerjoin(LtiContext, LtiContext.id == LtiResourceLink.context_pk)
        .where(
            LtiUser.user_id == user_id,
            LtiResourceLink.item_id == item_id,
            or_(LtiResourceLink.context_pk.is_(None), member),
            or_(LtiResourceLink.lineitem_url.is_not(None), LtiContext.ags_lineitems_url.is_not(None)),
            # A platform that did not grant the score scope would refuse every post: owe it nothing.
            or_(LtiContext.id.is_(None), LtiContext.ags_scopes.contains([ags.SCOPE_SCORE])),
        )
        .order_by(LtiResourceLink.created_at)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def _has_final(session: AsyncSession, submission_id: UUID, link_pk: UUID) -> bool:
    found = await session.scalar(
        select(LtiScorePost.id).where(
            LtiScorePost.submission_id == submission_id,
            LtiScorePost.resource_link_pk == link_pk,
            LtiScorePost.grading_progress == ags.FULLY_GRADED,
        )
    )
    return found is not None


async def enqueue_post_score(queue: Queue, settings: Settings, org_id: UUID, score_post_id: UUID) -> bool:
    """Queue the delivery of one score post; False when no new job was queued (one with this post's key is
    queued, retrying or running, or Redis is down). Nothing is lost: the sweep re-queues pending posts."""
    try:
        job = await queue.enqueue(
            "lti_post_score",
            key=lti_score_job_key(score_post_id),
            org_id=str(org_id),
            score_post_id=str(score_post_id),
            retries=settings.lti_retries,
            retry_delay=1.0,
            retry_backoff=60.0,
            timeout=max(30, int(settings.lti_http_timeout_seconds * 4)),
            heartbeat=settings.grading_heartbeat_seconds,
        )
    except (RedisError, OSError) as exc:
        log.warning("lti_score_enqueue_failed", score_post_id=str(score_post_id), error=str(exc))
        return False
    return job is not None


async def enqueue_scores(queue: Queue, settings: Settings, posts: Iterable[tuple[UUID, UUID]]) -> int:
    """``enqueue_post_score`` for each (org, score post) a committed transaction wrote."""
    queued = 0
    for org_id, post_id in posts:
        queued += await enqueue_post_score(queue, settings, org_id, post_id)
    return queued


# ---------------------------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class _Delivery:
    """What one post needs, read in a transaction and used outside it (HTTP is never awaited holding rows,
    except the line item creation, which must be single)."""

    post_id: UUID
    submission_id: UUID
    link_pk: UUID
    progress: str
    score_given: float | None
    score_maximum: float
    recorded_at: datetime
    sub: str
    lineitem_url: str | None
    lineitems_url: str | None
    scopes: tuple[str, ...]
    target: TokenTarget


class ScorePoster:
    """Delivers ``lti_score_posts`` rows (the ``lti_post_score`` job's work) for one org."""

    def __init__(self, db: Database, org_id: UUID, *, tokens: ServiceTokens, http: PlatformHttp, settings: Settings):
        self.db = db
        self.org_id = org_id
        self.tokens = tokens
        self.http = http
        self.settings = settings

    async def post(self, post_id: UUID) -> str:
        """``posted``, ``superseded``, or why nothing was sent (``missing``, the row's status). Raises
        ``PermanentPostFailure`` (dead-letter now) or another exception (SAQ retries)."""
        delivery = await self._claim(post_id)
        if isinstance(delivery, str):
            return delivery
        lineitem_url = delivery.lineitem_url or await self._ensure_lineitem(delivery)
        payload = ags.score_payload(
            user_id=delivery.sub,
            timestamp=delivery.recorded_at,
            grading_progress=delivery.progress,  # type: ignore[arg-type]
            score_given=delivery.score_given,
            score_maximum=delivery.score_maximum,
        )
        async with self.db.transaction(self.org_id) as session:
            # Posts of one (submission, link) one at a time: the check below and the send are atomic.
            lock = f"lyceum:lti_score:{delivery.submission_id}:{delivery.link_pk}"
            await session.execute(text("select pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": lock})
            row = await session.get(LtiScorePost, post_id, with_for_update=True, populate_existing=True)
            if row is None:
                return "missing"
            if row.status != "pending":
                return row.status
            if delivery.progress == ags.PENDING_MANUAL and await _has_final(
                session, delivery.submission_id, delivery.link_pk
            ):
                row.status, row.last_error = "posted", SUPERSEDED
                return "superseded"
            await self._send(
                "POST",
                ags.scores_url(lineitem_url),
                delivery,
                content=json.dumps(payload).encode(),
                content_type=ags.SCORE_MEDIA_TYPE,
            )
            row.status, row.posted_at, row.last_error = "posted", datetime.now(UTC), ""
        log.info("lti_score_posted", score_post_id=str(post_id), grading_progress=delivery.progress)
        return "posted"

    async def _claim(self, post_id: UUID) -> _Delivery | str:
        """Count the attempt and read what the post needs; a row past its attempts is abandoned."""
        async with self.db.transaction(self.org_id) as session:
            row = await session.get(LtiScorePost, post_id, with_for_update=True)
            if row is None:
                return "missing"
            if row.status != "pending":
                return row.status
            row.attempts += 1
            if row.attempts > self.settings.lti_retries * ABANDON_FACTOR:
                self._fail(session, row, f"abandoned after {row.attempts - 1} attempts", row.attempts - 1)
                return "failed"
            found = (
                await session.execute(
                    select(LtiResourceLink, LtiUser.sub, LtiPlatform, LtiContext)
                    .select_from(LtiResourceLink)
                    .join(LtiPlatform, LtiPlatform.id == LtiResourceLink.platform_id)
                    .join(LtiUser, LtiUser.id == row.lti_user_pk)
                    .outerjoin(LtiContext, LtiContext.id == LtiResourceLink.context_pk)
                    .where(LtiResourceLink.id == row.resource_link_pk)
                )
            ).one_or_none()
            if found is None:  # pragma: no cover - the foreign keys cascade: the row would be gone too
                return "missing"
            link, sub, platform, context = found
            return _Delivery(
                post_id=row.id,
                submission_id=row.submission_id,
                link_pk=link.id,
                progress=row.grading_progress,
                score_given=row.score_given,
                score_maximum=row.score_maximum,
                recorded_at=row.created_at,
                sub=sub,
                lineitem_url=link.lineitem_url,
                lineitems_url=context.ags_lineitems_url if context is not None else None,
                scopes=tuple(context.ags_scopes) if context is not None and context.ags_scopes else (ags.SCOPE_SCORE,),
                target=TokenTarget.of(platform),
            )

    async def _ensure_lineitem(self, delivery: _Delivery) -> str:
        """The link's line item, created in the context's container when it has none. The link's row is
        locked across the POST so concurrent posts (PendingManual and FullyGraded) create one, not two."""
        async with self.db.transaction(self.org_id) as session:
            link = await session.get(LtiResourceLink, delivery.link_pk, with_for_update=True, populate_existing=True)
            if link is None:  # pragma: no cover - cascades with the post
                raise PermanentPostFailure("the resource link was deleted")
            if link.lineitem_url:
                return link.lineitem_url
            if not delivery.lineitems_url:
                raise PermanentPostFailure("the link has no line item and its context no line items service")
            if ags.SCOPE_LINEITEM not in delivery.scopes:
                raise PermanentPostFailure("the platform did not grant the lineitem scope: cannot create a line item")
            title = link.title
            if not title and link.item_id is not None:
                from app.db.models import Item

                item = await session.get(Item, link.item_id)
                title = item.title if item is not None else ""
            maximum = link.score_maximum if link.score_maximum and link.score_maximum > 0 else delivery.score_maximum
            body = ags.lineitem_payload(
                label=title,
                score_maximum=maximum,
                resource_link_id=link.resource_link_id,
                tag=f"lyceum:{link.item_id}",
            )
            response = await self._send(
                "POST",
                delivery.lineitems_url,
                delivery,
                content=json.dumps(body).encode(),
                content_type=ags.LINEITEM_MEDIA_TYPE,
                accept=ags.LINEITEM_MEDIA_TYPE,
            )
            created = response.get("id") if isinstance(response, dict) else None
            if not isinstance(created, str) or not created.startswith(("https://", "http://")):
                raise PermanentPostFailure("the platform created a line item without an id URL")
            link.lineitem_url = created[:1000]
            if not link.score_maximum:
                link.score_maximum = maximum
            log.info("lti_lineitem_created", link=str(link.id), lineitem=link.lineitem_url)
            return link.lineitem_url

    async def _send(
        self,
        method: str,
        url: str,
        delivery: _Delivery,
        *,
        content: bytes,
        content_type: str,
        accept: str = "application/json",
    ) -> Any:
        """One authorized call; a 401 drops the cached token and tries once more with a fresh one."""
        for attempt in (1, 2):
            try:  # the token request's failures count as the call's: a 401 there is a bad registration
                token = await self.tokens.token(delivery.target, delivery.scopes)
                headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type, "Accept": accept}
                response = await self.http.request(method, url, headers=headers, content=content)
            except UnsafeUrl as exc:
                raise PermanentPostFailure(f"refused platform URL: {exc}") from exc
            except PlatformHttpError as exc:
                if exc.status == 401 and attempt == 1:
                    await self.tokens.forget(delivery.target, delivery.scopes)
                    continue
                if not exc.retryable:
                    raise PermanentPostFailure(str(exc)) from exc
                raise
            try:
                return response.json() if response.content else None
            except ValueError:
                return None
        raise PermanentPostFailure("the platform refused a fresh access token")  # pragma: no cover

    async def note_error(self, post_id: UUID, reason: str) -> None:
        """A retryable failure: kept on the row for the admin's view while SAQ retries."""
        async with self.db.transaction(self.org_id) as session:
            await session.execute(
                update(LtiScorePost)
                .where(LtiScorePost.id == post_id, LtiScorePost.status == "pending")
                .values(last_error=reason[:4000])
            )

    async def dead_letter(self, post_id: UUID, attempts: int, reason: str) -> None:
        """Delivery failed for good: the row is ``failed`` (the sweep skips it) and the job is kept for admins."""
        async with self.db.transaction(self.org_id) as session:
            row = await session.get(LtiScorePost, post_id, with_for_update=True)
            if row is not None and row.status == "pending":
                self._fail(session, row, reason, attempts)

    def _fail(self, session: AsyncSession, row: LtiScorePost, reason: str, attempts: int) -> None:
        row.status, row.last_error = "failed", reason[:4000]
        log.error("lti_score_failed", score_post_id=str(row.id), reason=reason)
        session.add(
            DeadLetter(
                org_id=row.org_id,
                job_key=lti_score_job_key(row.id),
                function="lti_post_score",
                submission_id=row.submission_id,
                attempts=attempts,
                reason=reason[:4000],
                payload={
                    "score_post_id": str(row.id),
                    "resource_link_pk": str(row.resource_link_pk),
                    "grading_progress": row.grading_progress,
                },
            )
        )


async def pending_score_posts(db: Database, limit: int) -> list[tuple[UUID, UUID]]:
    """(score post, org) of every pending post, all orgs (the definer function), oldest first."""
    async with db.transaction(None) as session:
        rows = (await session.execute(text("select * from lyceum_lti_pending_score_posts(:n)"), {"n": limit})).all()
    return [(row[0], row[1]) for row in rows]


__all__ = [
    "PermanentPostFailure",
    "ScorePoster",
    "enqueue_post_score",
    "enqueue_scores",
    "pending_score_posts",
    "record_scores",
]
