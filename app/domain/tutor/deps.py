"""Providers of the tutor services (dependency injection), and the turn runner the tutor's socket and message
handler build from the component bundle: each part gets only the clients it uses."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.deps import provide_tenant_db
from app.domain.search.deps import provide_search_service
from app.domain.tutor.chat import ChatSession
from app.domain.tutor.grounding import Retriever
from app.domain.tutor.services import TutorService
from app.domain.tutor.turns import TurnRunner
from app.lib.security.principal import Principal


def turn_runner(components: Components, chat: ChatSession, principal: Principal) -> TurnRunner:
    """The runner of one conversation's turns (the socket's, and the message handler's). ``principal`` is
    the session's learner (only they can talk in it): retrieval searches with their tenant and enrolments."""
    settings = components.settings
    search = provide_search_service(provide_tenant_db(components, principal), components, principal, request_id="")
    return TurnRunner(
        chat,
        db=components.db,
        settings=components.settings,
        tutor=components.tutor,
        limiter=components.limiter,
        events=components.events,
        markers=components.limiter_redis,
        retriever=Retriever(
            search=search,
            course_id=chat.course_id,
            limit=settings.tutor_sources,
            timeout=settings.tutor_retrieval_timeout_seconds,
        ),
    )


def provide_tutor_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> TutorService:
    return TutorService(
        tenant_db, principal, request_id, settings=components.settings, tutor=components.tutor, events=components.events
    )


tutor_dependencies = {"tutor_service": Provide(provide_tutor_service, sync_to_thread=False)}
