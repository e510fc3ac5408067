"""Dependencies shared by every domain: the runtime, the caller and the request id."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from app.lib.pagination import provide_page_request
from app.lib.security.principal import Principal
from app.runtime import Runtime


def provide_runtime(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal = request.user
    return principal


def provide_request_id(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


common_dependencies = {
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "request_id": Provide(provide_request_id, sync_to_thread=False),
    "page": Provide(provide_page_request, sync_to_thread=False),
}
