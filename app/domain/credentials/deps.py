"""Providers of the credentials services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.credentials.admin import CredentialAdminService, IssuerAdminService
from app.domain.credentials.learner import LearnerCredentialService
from app.domain.credentials.share import ShareService
from app.domain.credentials.verification import PublicCredentialService
from app.lib.security.principal import Principal


def provide_public_credential_service(components: Components) -> PublicCredentialService:
    return PublicCredentialService(db=components.db, settings=components.settings, limiter=components.limiter)


def provide_issuer_admin_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> IssuerAdminService:
    return IssuerAdminService(tenant_db, principal, request_id, settings=components.settings)


def provide_credential_admin_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> CredentialAdminService:
    return CredentialAdminService(
        tenant_db, principal, request_id, settings=components.settings, events=components.events
    )


def provide_learner_credential_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> LearnerCredentialService:
    return LearnerCredentialService(tenant_db, principal, request_id, settings=components.settings)


def provide_share_service(components: Components) -> ShareService:
    return ShareService(components.db, components.settings)


public_credential_dependencies = {
    "public_credential_service": Provide(provide_public_credential_service, sync_to_thread=False)
}
issuer_admin_dependencies = {"issuer_admin_service": Provide(provide_issuer_admin_service, sync_to_thread=False)}
credential_admin_dependencies = {
    "credential_admin_service": Provide(provide_credential_admin_service, sync_to_thread=False)
}
learner_credential_dependencies = {
    "learner_credential_service": Provide(provide_learner_credential_service, sync_to_thread=False)
}
share_dependencies = {"share_service": Provide(provide_share_service, sync_to_thread=False)}
