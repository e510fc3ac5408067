"""SAQ task functions. Each is a thin shell around a domain service, like a controller."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog
from saq.types import Context
from sqlalchemy import text

from app.domain.alerts.evaluation import evaluate_all
from app.domain.components import Components
from app.domain.credentials.enqueue import enqueue_issue_credential
from app.domain.credentials.issuance import CredentialSchemaError, IssuanceService
from app.domain.dataexport.builder import ExportBuilder
from app.domain.dataprivacy.retention import purge_expired
from app.domain.grading.deps import grading_service
from app.domain.grading.graders import TransientGradingError
from app.domain.grading.services import GradingService, enqueue_grading, stale_after_seconds
from app.domain.insights.rollup import refresh_all
from app.domain.lti.ags import PermanentPostFailure, ScorePoster, enqueue_post_score, pending_score_posts
from app.domain.lti.nrps import PermanentSyncFailure, RosterSync, contexts_with_roster, enqueue_roster_sync
from app.domain.lti.service_token import ServiceTokens
from app.domain.search.indexer import ContentIndexer
from app.domain.spaced.services import DueCounter
from app.domain.webhooks.delivery import Deliverer, due_deliveries, enqueue_delivery, relay
from app.domain.webhooks.retention import prune as prune_webhook_events

log = structlog.get_logger("lyceum.jobs")


async def ping(ctx: Context, *, message: str = "pong") -> dict[str, Any]:
    """Round trip through the queue; used by health checks and the queue benchmark."""
    return {"message": message, "at": time.time()}


async def heartbeat(ctx: Context) -> None:
    """Proves the worker can reach PostgreSQL every minute; the last beat is kept in Redis for operators."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    async with components.db.transaction(None) as session:
        await session.execute(text("select 1"))
    await components.redis.set(f"{components.settings.redis_key_prefix}worker:heartbeat", str(time.time()), ex=300)


async def _keep_alive(job: Any, service: GradingService, submission_id: UUID, every: float) -> None:
    """Touch the job (in Redis, for SAQ's sweep) and the submission (in PostgreSQL, for ours) while it
    runs: a worker that dies stops touching both, and one of the sweeps gives the work to another run.
    A failed beat (Redis or PostgreSQL briefly away) is logged and the next one tried; it must not end
    the heart-beating of a job that is still working."""
    while True:
        await asyncio.sleep(every)
        for beat in (job.update, lambda: service.heartbeat(submission_id)):
            try:
                await beat()
            except Exception as exc:
                log.warning("grading_heartbeat_failed", submission_id=str(submission_id), error=repr(exc))


async def grade_submission(ctx: Context, *, submission_id: str, org_id: str) -> str:
    """Grade one submission (once: a re-run finds it graded and stops). Transient failures raise so SAQ
    retries with backoff; the last failed attempt lands on the dead-letter list instead."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    service = grading_service(components, UUID(org_id))
    every = max(0.5, components.settings.grading_heartbeat_seconds / 3)
    beat = asyncio.create_task(_keep_alive(job, service, UUID(submission_id), every))
    try:
        return await service.grade(UUID(submission_id))
    except Exception as exc:
        kind = "transient" if isinstance(exc, TransientGradingError) else type(exc).__name__
        if job.attempts >= job.retries:
            await service.dead_letter(UUID(submission_id), job.key, job.attempts, f"{kind}: {exc}")
            return "failed"
        log.warning("grading_retry", submission_id=submission_id, attempt=job.attempts, error=str(exc))
        raise
    finally:
        beat.cancel()


async def requeue_stalled_submissions(ctx: Context) -> int:
    """Give work that nothing is doing back to the queue; returns how many jobs were queued.

    - ``queued`` for longer than the threshold: Redis was down at enqueue, or lost the job.
    - ``grading`` with a heartbeat older than the threshold: the run was abandoned (its worker or
      ``lyceum up`` stopped or was killed) and its job is gone (Redis lost it, or SAQ gave up on it).
      Each such recovery is counted; past LYCEUM_GRADING_RETRIES the submission fails to the
      dead-letter list instead.

    The job key keeps a live job from being doubled (the enqueue is refused), and grading itself
    re-checks the status under a row lock, so a submission is graded once however the runs race.
    The threshold is LYCEUM_GRADING_STALE_SECONDS; the sweep runs every heartbeat."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    threshold = stale_after_seconds(components.settings)
    async with components.db.transaction(None) as session:
        stalled = (await session.execute(text("select * from lyceum_stalled_submissions(:s)"), {"s": threshold})).all()
    queued = 0
    for submission_id, org_id, status in stalled:
        service = grading_service(components, org_id)
        if status == "grading" and not await service.may_recover(submission_id):
            continue
        if await enqueue_grading(components.queue, components.settings, submission_id, org_id):
            queued += 1
            if status == "grading":
                await service.record_recovery(submission_id)
    return queued


async def index_course(ctx: Context, *, org_id: str, course_id: str) -> dict[str, Any]:
    """Bring one course's content index (PostgreSQL chunks and the org's Chroma collection) in step with
    its content; keyed per course version, idempotent (chunk ids are content hashes). Failures raise so
    SAQ retries; the last failed attempt lands on the dead-letter list instead."""
    runtime: Components = ctx["components"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    indexer = ContentIndexer(runtime.db, runtime.search.vectors)
    try:
        report = await indexer.index_course(UUID(org_id), UUID(course_id))
    except Exception as exc:
        if job.attempts >= job.retries:
            await indexer.dead_letter(UUID(org_id), UUID(course_id), job.key, job.attempts, repr(exc))
            return {"failed": repr(exc)}
        log.warning("index_course_retry", org_id=org_id, course_id=course_id, attempt=job.attempts, error=repr(exc))
        raise
    return {"chunks": report.chunks, "added": report.added, "removed": report.removed}


async def precompute_review_due(ctx: Context) -> dict[str, Any]:
    """Daily cron (LYCEUM_SPACED_REVIEW_CRON): every learner's spaced-review due counts for the UTC day,
    written to ``review_due_counts``. Idempotent per day (a re-run overwrites), so SAQ's retries and a
    manual re-run are safe; a failure raises for SAQ to retry, and the next day's run starts afresh."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    report = await DueCounter(components.db).precompute()
    log.info("review_due_precomputed", day=report.day, orgs=report.orgs, learners=report.learners, due=report.due_now)
    return {"day": report.day, "orgs": report.orgs, "learners": report.learners, "due_now": report.due_now}


async def _touch(job: Any, every: float) -> None:
    """Keep a running job's SAQ heartbeat fresh (a dead worker stops touching it, and the sweep retries it)."""
    while True:
        await asyncio.sleep(every)
        try:
            await job.update()
        except Exception as exc:
            log.warning("job_heartbeat_failed", job=job.key, error=repr(exc))


async def issue_credential(ctx: Context, *, org_id: str, enrollment_id: str) -> str:
    """Issue the credential of one completed enrolment (once: a re-run finds it and stops), then announce it.
    A credential that fails the OBv3 schema goes to the dead-letter list at once (a retry builds the same
    one); other failures raise so SAQ retries with backoff, and the last attempt dead-letters."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    org, enrollment = UUID(org_id), UUID(enrollment_id)
    service = IssuanceService(components.db, components.settings)
    beat = asyncio.create_task(_touch(job, max(0.5, components.settings.grading_heartbeat_seconds / 3)))
    try:
        result = await service.issue(org, enrollment)
    except CredentialSchemaError as exc:
        log.error("credential_schema_invalid", enrollment_id=enrollment_id, path=exc.path, error=exc.message)
        await service.dead_letter(org, enrollment, job.attempts, f"schema: {exc}", schema_path=exc.path)
        return "invalid"
    except Exception as exc:
        if job.attempts >= job.retries:
            await service.dead_letter(org, enrollment, job.attempts, f"{type(exc).__name__}: {exc}")
            return "failed"
        log.warning("credential_retry", enrollment_id=enrollment_id, attempt=job.attempts, error=repr(exc))
        raise
    finally:
        beat.cancel()
    if result.announcement is not None:
        await components.events.publish(org, result.announcement)
    return result.outcome


async def issue_pending_credentials(ctx: Context, *, limit: int = 500) -> int:
    """Every LYCEUM_GRADING_HEARTBEAT_SECONDS: queue ``issue_credential`` for completed enrolments that still
    have no credential (and no dead letter), whatever lost their job: Redis losing it, a crash between a
    completion's commit and its enqueue, a restart. A job already queued for one is refused by its key;
    returns how many were queued."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    async with components.db.transaction(None) as session:
        pending = (
            await session.execute(text("select * from lyceum_completed_without_credential(:n)"), {"n": limit})
        ).all()
    queued = 0
    for enrollment_id, org_id in pending:
        queued += await enqueue_issue_credential(components.queue, components.settings, org_id, enrollment_id)
    return queued


# ---------------------------------------------------------------------------------------------- LTI (AGS, NRPS)


def _service_tokens(components: Components) -> ServiceTokens:
    return ServiceTokens(components.db, components.redis, components.lti_http, components.settings)


async def lti_post_score(ctx: Context, *, org_id: str, score_post_id: str) -> str:
    """Deliver one AGS score (creating the link's line item first when it has none). 429/5xx/transport
    failures raise so SAQ retries with backoff (LYCEUM_LTI_RETRIES attempts, then a dead letter); other 4xx
    and refused URLs cannot get better: the post fails and is dead-lettered at once."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    s = components.settings
    poster = ScorePoster(
        components.db, UUID(org_id), tokens=_service_tokens(components), http=components.lti_http, settings=s
    )
    beat = asyncio.create_task(_touch(job, max(0.5, s.grading_heartbeat_seconds / 3)))
    try:
        return await poster.post(UUID(score_post_id))
    except PermanentPostFailure as exc:
        await poster.dead_letter(UUID(score_post_id), job.attempts, f"refused: {exc}")
        return "failed"
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if job.attempts >= job.retries:
            await poster.dead_letter(UUID(score_post_id), job.attempts, reason)
            return "failed"
        log.warning("lti_score_retry", score_post_id=score_post_id, attempt=job.attempts, error=reason)
        await poster.note_error(UUID(score_post_id), reason)
        raise
    finally:
        beat.cancel()


async def lti_post_pending_scores(ctx: Context, *, limit: int = 500) -> int:
    """Every LYCEUM_GRADING_HEARTBEAT_SECONDS: queue ``lti_post_score`` for every pending score post, whatever
    lost its job (a crash between the grade's commit and the enqueue, Redis losing it). A post whose job is
    queued, retrying or running is refused by its key; returns how many were queued."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    queued = 0
    for post_id, org_id in await pending_score_posts(components.db, limit):
        queued += await enqueue_post_score(components.queue, components.settings, org_id, post_id)
    return queued


async def lti_sync_roster(ctx: Context, *, org_id: str, context_pk: str) -> dict[str, Any]:
    """Sync one LMS context's roster (NRPS). Transient failures raise so SAQ retries; the last attempt, or a
    failure a retry cannot fix, lands on the dead-letter list."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    s = components.settings
    syncer = RosterSync(
        components.db, UUID(org_id), tokens=_service_tokens(components), http=components.lti_http, settings=s
    )
    beat = asyncio.create_task(_touch(job, max(0.5, s.grading_heartbeat_seconds / 3)))
    try:
        report = await syncer.sync(UUID(context_pk))
    except PermanentSyncFailure as exc:
        await syncer.dead_letter(UUID(context_pk), job.attempts, f"refused: {exc}")
        return {"failed": str(exc)}
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if job.attempts >= job.retries:
            await syncer.dead_letter(UUID(context_pk), job.attempts, reason)
            return {"failed": reason}
        log.warning("lti_roster_retry", context_pk=context_pk, attempt=job.attempts, error=reason)
        raise
    finally:
        beat.cancel()
    return report.as_dict() if report is not None else {"skipped": "no roster service"}


async def lti_sync_rosters(ctx: Context, *, limit: int = 10_000) -> int:
    """Nightly (LYCEUM_LTI_ROSTER_SYNC_CRON): queue a roster sync of every linked context with a roster
    service, least recently synced first; returns how many were queued."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    queued = 0
    for context_pk, org_id in await contexts_with_roster(components.db, limit):
        queued += await enqueue_roster_sync(components.queue, components.settings, org_id, context_pk)
    return queued


# ---------------------------------------------------------------------------------------------- webhooks


async def webhooks_deliver(ctx: Context, *, org_id: str, delivery_id: str) -> str:
    """Send one webhook delivery (once per due attempt: the deliverer claims it first). Failures are the
    deliverer's to record and schedule (RETRY_SCHEDULE, the breaker, the dead letter and auto-disable after
    the last attempt), so this job raises only for our own faults (the database away), and SAQ's retry or
    the sweep picks the delivery up again."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    deliverer = Deliverer(db=components.db, org_id=UUID(org_id), settings=components.settings)
    return await deliverer.deliver(UUID(delivery_id))


async def webhooks_relay(ctx: Context) -> dict[str, int]:
    """Every LYCEUM_GRADING_HEARTBEAT_SECONDS (the worker's LISTEN wake-up relays at once; this catches what
    it missed): outbox rows to deliveries, then a job for every delivery whose attempt is due (retries, jobs
    Redis lost, deliveries postponed by an open breaker). A delivery with a live job is refused by its key."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    made = await relay(components.db, components.queue, components.settings)
    queued = 0
    for delivery_id, org_id in await due_deliveries(components.db):
        queued += await enqueue_delivery(components.queue, components.settings, org_id, delivery_id)
    return {"relayed": made, "queued": queued}


async def webhooks_prune(ctx: Context) -> dict[str, int]:
    """Daily (LYCEUM_WEBHOOKS_PRUNE_CRON): relayed outbox events past LYCEUM_WEBHOOKS_RETENTION_DAYS, with
    their delivery log, unless a delivery is still pending (app/domain/webhooks/retention.py)."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    return {"pruned": await prune_webhook_events(components.db, components.settings.webhooks_retention_days)}


async def alerts_evaluate(ctx: Context) -> dict[str, int]:
    """Every minute: each org's enabled alert rules measured over their windows; alerts fired (announced on
    the live feed) or resolved (app/domain/alerts/evaluation.py)."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    return await evaluate_all(components.db, components.events)


# ---------------------------------------------------------------------------------------------- AI usage


async def ai_usage_rollup(ctx: Context) -> dict[str, int]:
    """Every LYCEUM_AI_USAGE_ROLLUP_CRON (default: each minute): recompute the usage rollup's hours touched
    since each org's watermark (app/domain/insights/rollup.py). Idempotent and safe beside another worker's
    run (a per-org advisory lock; buckets are replaced whole, never incremented)."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    margin = timedelta(seconds=components.settings.ai_usage_refresh_margin_seconds)
    result = await refresh_all(components.db, margin)
    return {"orgs": result.orgs, "buckets": result.buckets}


# ---------------------------------------------------------------------------------------------- data rights


async def build_data_export(ctx: Context, *, export_id: str, org_id: str) -> str:
    """Build one personal-data export's zip (app/domain/dataexport/). A re-run finds the export no longer
    pending and stops; failures raise so SAQ retries with backoff, and the last attempt marks the export
    failed and dead-letters the job."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    job = ctx["job"]
    builder = ExportBuilder(components.db, components.tutor.objects, components.settings)
    try:
        return await builder.build(UUID(org_id), UUID(export_id))
    except Exception as exc:
        if job.attempts >= job.retries:
            await builder.fail(UUID(org_id), UUID(export_id), job.attempts, f"{type(exc).__name__}: {exc}")
            return "failed"
        log.warning("data_export_retry", export_id=export_id, attempt=job.attempts, error=repr(exc))
        raise


async def expire_data_exports(ctx: Context) -> dict[str, int]:
    """Every 10 minutes: ready exports past their expiry, in every org, lose their zip and say ``expired``."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    builder = ExportBuilder(components.db, components.tutor.objects, components.settings)
    return {"expired": await builder.expire()}


async def purge_expired_transcripts(ctx: Context) -> dict[str, int]:
    """Daily (LYCEUM_TRANSCRIPT_PURGE_CRON): AI transcript text past each org's transcript_retention_days is
    deleted, the rows' metrics kept (app/domain/dataprivacy/retention.py). Idempotent: a rerun finds nothing."""
    components: Components = ctx["components"]  # type: ignore[typeddict-item]
    report = await purge_expired(components.db, components.tutor.objects)
    return {"orgs": report.orgs, "purged": report.purged, "files_deleted": report.files_deleted}
