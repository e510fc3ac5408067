"""Providers of the grading services (dependency injection), and the worker's grading service."""

from __future__ import annotations

from uuid import UUID

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.grading.services import GradingService, SubmissionService
from app.lib.security.principal import Principal


def provide_submission_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> SubmissionService:
    return SubmissionService(
        tenant_db,
        principal,
        request_id,
        settings=components.settings,
        limiter=components.limiter,
        queue=components.queue,
        events=components.events,
        review_queue=components.grading.review_queue,
    )


def grading_service(components: Components, org_id: UUID) -> GradingService:
    """The worker's: one per job (jobs/tasks.py), for the org the job carries."""
    return GradingService(
        components.db,
        org_id,
        settings=components.settings,
        grading=components.grading,
        events=components.events,
        queue=components.queue,
    )


submission_dependencies = {"submission_service": Provide(provide_submission_service, sync_to_thread=False)}
