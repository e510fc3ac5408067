"""Providers of the tutor services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.domain.components import Components
from app.domain.tutor.services import TutorService
from app.lib.security.principal import Principal


def provide_tutor_service(components: Components, principal: Principal, request_id: str) -> TutorService:
    return TutorService(components, principal, request_id)


tutor_dependencies = {"tutor_service": Provide(provide_tutor_service, sync_to_thread=False)}
