"""Providers of the progress services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.domain.components import Components
from app.domain.progress.overview import LearningService
from app.domain.progress.services import ProgressService
from app.lib.security.principal import Principal


def provide_progress_service(components: Components, principal: Principal, request_id: str) -> ProgressService:
    return ProgressService(components, principal, request_id)


def provide_learning_service(components: Components, principal: Principal, request_id: str) -> LearningService:
    return LearningService(components, principal, request_id)


progress_dependencies = {"progress_service": Provide(provide_progress_service, sync_to_thread=False)}
learning_dependencies = {"learning_service": Provide(provide_learning_service, sync_to_thread=False)}
