"""Providers of the LTI launch services (dependency injection)."""

from __future__ import annotations

from litestar.di import Provide

from app.domain.auth.deps import provide_auth_service
from app.domain.components import Components
from app.domain.lti.launch import LaunchService
from app.domain.lti.platform_keys import PlatformKeys


def provide_launch_service(components: Components, request_id: str) -> LaunchService:
    return LaunchService(
        components.db,
        components.redis,
        request_id,
        settings=components.settings,
        keys=PlatformKeys(components.redis, components.lti_http, components.settings),
        auth=provide_auth_service(components, request_id),
    )


launch_dependencies = {"launch_service": Provide(provide_launch_service, sync_to_thread=False)}
