"""Providers of the tutor services (dependency injection), and the turn runner the tutor's socket and message
handler build from the component bundle: each part gets only the clients it uses."""

from __future__ import annotations

from litestar.di import Provide

from app.db.engine import TenantDatabase
from app.domain.components import Components
from app.domain.tutor.chat import ChatSession
from app.domain.tutor.services import TutorService
from app.domain.tutor.turns import TurnRunner
from app.lib.security.principal import Principal


def turn_runner(components: Components, chat: ChatSession) -> TurnRunner:
    """The runner of one conversation's turns (the socket's, and the message handler's)."""
    return TurnRunner(
        chat,
        db=components.db,
        settings=components.settings,
        tutor=components.tutor,
        limiter=components.limiter,
        events=components.events,
        markers=components.limiter_redis,
    )


def provide_tutor_service(
    tenant_db: TenantDatabase, components: Components, principal: Principal, request_id: str
) -> TutorService:
    return TutorService(
        tenant_db, principal, request_id, settings=components.settings, tutor=components.tutor, events=components.events
    )


tutor_dependencies = {"tutor_service": Provide(provide_tutor_service, sync_to_thread=False)}
