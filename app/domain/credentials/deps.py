"""Providers of the credentials services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.credentials.learner import LearnerCredentialService
from app.domain.credentials.share import ShareService
from app.lib.security.principal import Principal


def provide_learner_credential_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> LearnerCredentialService:
    return LearnerCredentialService(tenant_db, principal, request_id, settings=components.settings)


def provide_share_service(components: Components) -> ShareService:
    return ShareService(components.db, components.settings)


learner_credential_dependencies = {
    "learner_credential_service": Provide(provide_learner_credential_service, sync_to_thread=False)
}
share_dependencies = {"share_service": Provide(provide_share_service, sync_to_thread=False)}
