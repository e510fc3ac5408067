"""Providers of the recommendation service (dependency injection): the catalogue's ``CourseService`` and
the ``SearchService`` (its providers, reused), and the object store of tutor transcripts."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.courses.deps import course_dependencies
from app.domain.courses.services import CourseService
from app.domain.recommendations.services import RecommendationService
from app.domain.search.deps import search_dependencies
from app.domain.search.services import SearchService
from app.lib.security.principal import Principal


def provide_recommendation_service(
    tenant_db: TenantDatabase,
    components: Components,
    course_service: CourseService,
    search_service: SearchService,
    principal: Principal,
    request_id: str,
) -> RecommendationService:
    return RecommendationService(
        tenant_db,
        principal,
        request_id,
        courses=course_service,
        search=search_service,
        objects=components.tutor.objects,
    )


recommendation_dependencies = {
    **course_dependencies,
    **search_dependencies,
    "recommendation_service": Provide(provide_recommendation_service, sync_to_thread=False),
}
