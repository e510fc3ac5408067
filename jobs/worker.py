"""The SAQ worker: one queue on Redis, task functions that call domain services."""

from __future__ import annotations

import asyncio
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import start_http_server
from saq import CronJob, Worker
from saq.types import Context, PartialTimersDict

from app.config import Settings, get_settings
from app.domain.grading.sandbox import SandboxUnavailable, isolation_for, sandbox_policy
from app.domain.webhooks.wakeup import RelayWakeup
from app.lib import tracing
from app.lib.jobs import QUEUE_NAME, create_queue
from app.lib.observability import REGISTRY, configure_logging
from app.server.components import Components, build_components, close_components
from jobs import job_tracing, tasks

log = structlog.get_logger("lyceum.worker")


def create_worker(settings: Settings, *, handle_signals: bool = True) -> Worker[Context]:
    async def startup(ctx: Context) -> None:
        ctx["traced"] = tracing.setup_tracing(settings, "lyceum-worker") is not None  # type: ignore[typeddict-unknown-key]
        components = build_components(settings)
        ctx["components"] = components  # type: ignore[typeddict-unknown-key]
        # Webhooks: relay the outbox as soon as a transaction that wrote to it commits (LISTEN/NOTIFY).
        wakeup = RelayWakeup(components.db, components.queue, settings)
        wakeup.start()
        ctx["webhooks_wakeup"] = wakeup  # type: ignore[typeddict-unknown-key]
        log.info("worker_started", queue=QUEUE_NAME)
        try:  # say at start, not at the first code submission, whether code can be graded here
            await isolation_for(sandbox_policy(settings))
        except SandboxUnavailable:
            log.error("code_grading_unavailable", hint="code submissions go to human review until fixed (ADR 0007)")

    async def shutdown(ctx: Context) -> None:
        wakeup: RelayWakeup | None = ctx.get("webhooks_wakeup")  # type: ignore[assignment]
        if wakeup is not None:
            await wakeup.stop()
        components: Components | None = ctx.get("components")  # type: ignore[assignment]
        if components is not None:
            await close_components(components)
        if ctx.get("traced"):
            tracing.shutdown_tracing()  # flushes the last job spans

    # Sweep as often as a job must heart-beat, so a job whose worker died is retried promptly: SAQ's own
    # sweep (jobs in Redis whose heartbeat stopped) and ours (submissions in PostgreSQL that no job is
    # grading, completed enrolments with no credential, e.g. after Redis lost its data).
    every = max(1, settings.grading_heartbeat_seconds)
    timers: PartialTimersDict = {"sweep": every}  # type: ignore[typeddict-item]
    worker = Worker(
        create_queue(settings),
        functions=[
            tasks.ping,
            tasks.heartbeat,
            tasks.grade_submission,
            tasks.requeue_stalled_submissions,
            tasks.index_course,
            tasks.precompute_review_due,
            tasks.issue_credential,
            tasks.issue_pending_credentials,
            tasks.lti_post_score,
            tasks.lti_post_pending_scores,
            tasks.lti_sync_roster,
            tasks.lti_sync_rosters,
            tasks.webhooks_deliver,
            tasks.webhooks_relay,
            tasks.webhooks_prune,
            tasks.alerts_evaluate,
            tasks.ai_usage_rollup,
            tasks.build_data_export,
            tasks.expire_data_exports,
            tasks.purge_expired_transcripts,
        ],
        cron_jobs=[
            CronJob(tasks.heartbeat, cron="* * * * *"),
            CronJob(tasks.requeue_stalled_submissions, cron=every_seconds_cron(every)),
            # SAQ's default job timeout is 10 s: a daily pass over every learner may need longer.
            CronJob(tasks.precompute_review_due, cron=settings.spaced_review_cron, retries=3, timeout=1800),
            CronJob(tasks.issue_pending_credentials, cron=every_seconds_cron(every)),
            CronJob(tasks.lti_post_pending_scores, cron=every_seconds_cron(every)),
            CronJob(tasks.lti_sync_rosters, cron=settings.lti_roster_sync_cron, retries=3, timeout=600),
            CronJob(tasks.webhooks_relay, cron=every_seconds_cron(every), timeout=300),
            CronJob(tasks.webhooks_prune, cron=settings.webhooks_prune_cron, timeout=1800),
            CronJob(tasks.alerts_evaluate, cron="* * * * *", timeout=120),
            # The first run after a deploy rolls up the whole log: give it time (later runs touch an hour or two).
            CronJob(tasks.ai_usage_rollup, cron=settings.ai_usage_rollup_cron, timeout=1800),
            CronJob(tasks.expire_data_exports, cron="*/10 * * * *", timeout=600),
            CronJob(tasks.purge_expired_transcripts, cron=settings.transcript_purge_cron, timeout=3600),
        ],
        timers=timers,
        startup=startup,
        shutdown=shutdown,
        # A span per job, the child of the span that enqueued it; no hooks at all with tracing off.
        before_process=job_tracing.before if tracing.configured(settings) else None,
        after_process=job_tracing.after if tracing.configured(settings) else None,
        concurrency=10,
        # A blocking fetch that returns empty-handed before the Redis client's 5 s read timeout. SAQ's
        # default (block forever) hit that timeout every 5 s on an idle queue: an error per fetch loop,
        # and a fetch the server could complete after the client had already given up on it.
        dequeue_timeout=2,
    )
    if not handle_signals:
        worker.SIGNALS = []  # in tests the worker runs off the main thread
    return worker


def every_seconds_cron(seconds: int) -> str:
    """A cron expression firing every ``seconds`` (croniter's sixth field is seconds); each minute past 59."""
    if seconds >= 60:
        return f"*/{min(59, seconds // 60)} * * * *"
    return f"* * * * * */{seconds}"


def start_metrics_server(settings: Settings) -> WSGIServer | None:
    """Serve this process's metrics (grading's SLIs, docs/slo.md) on LYCEUM_WORKER_METRICS_PORT, in a daemon
    thread; None when the setting is 0 (off). The API's /metrics cannot show them: the worker is another process."""
    if not settings.worker_metrics_port:
        return None
    server, _thread = start_http_server(settings.worker_metrics_port, addr=settings.host, registry=REGISTRY)
    log.info("worker_metrics_serving", host=settings.host, port=settings.worker_metrics_port)
    return server


def run_worker(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json or settings.is_production)
    start_metrics_server(settings)
    worker = create_worker(settings)
    asyncio.run(worker.start())
