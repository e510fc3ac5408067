"""Providers of the experiment service (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.experiments.services import ExperimentService
from app.lib.security.principal import Principal


def provide_experiment_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> ExperimentService:
    tutor = components.tutor
    return ExperimentService(tenant_db, principal, request_id, prompts=tutor.prompts, chats=tutor.chats)


experiment_dependencies = {"experiment_service": Provide(provide_experiment_service, sync_to_thread=False)}
