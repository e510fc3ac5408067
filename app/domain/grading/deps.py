"""Providers of the grading services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.domain.components import Components
from app.domain.grading.services import SubmissionService
from app.lib.security.principal import Principal


def provide_submission_service(components: Components, principal: Principal, request_id: str) -> SubmissionService:
    return SubmissionService(components, principal, request_id)


submission_dependencies = {"submission_service": Provide(provide_submission_service, sync_to_thread=False)}
