"""Providers of the org administration services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.auth.deps import provide_auth_service
from app.domain.components import Components
from app.domain.orgadmin.acceptance import InvitationAcceptance
from app.domain.orgadmin.courses import OrgCourseService
from app.domain.orgadmin.invitations import InvitationService
from app.domain.orgadmin.progress import ProgressReportService
from app.lib.security.principal import Principal


def provide_invitation_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> InvitationService:
    return InvitationService(tenant_db, principal, request_id, settings=components.settings)


def provide_org_course_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> OrgCourseService:
    # The outline cache's client (app/domain/courses/deps.py): a visibility change drops the cached outline.
    return OrgCourseService(
        tenant_db, principal, request_id, cache=components.limiter_redis, settings=components.settings
    )


def provide_progress_report_service(
    tenant_db: TenantDatabase, principal: Principal, request_id: str
) -> ProgressReportService:
    return ProgressReportService(tenant_db, principal, request_id)


def provide_invitation_acceptance(components: Components, request_id: str) -> InvitationAcceptance:
    return InvitationAcceptance(
        components.db,
        request_id,
        settings=components.settings,
        limiter=components.limiter,
        auth=provide_auth_service(components, request_id),
    )


orgadmin_dependencies = {
    "invitation_service": Provide(provide_invitation_service, sync_to_thread=False),
    "org_course_service": Provide(provide_org_course_service, sync_to_thread=False),
    "progress_report_service": Provide(provide_progress_report_service, sync_to_thread=False),
}
acceptance_dependencies = {
    "invitation_acceptance": Provide(provide_invitation_acceptance, sync_to_thread=False),
}
