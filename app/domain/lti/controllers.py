"""LTI launch routes: ``GET|POST /lti/login``, ``POST /lti/launch`` (HTML for the browser in the LMS frame)
and ``POST /v1/lti/session`` (the web app's one-time code exchange, problem+json on failure).

Handlers stay thin: they read the parameters (a form body is parsed here, strictly: the launch must answer
a 4xx page for any body, never a framework 500 or a JSON problem the LMS frame would show raw) and turn a
``LaunchRefused`` into the error page, logging the reason.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Controller, Request, Response, post, route
from litestar.enums import HttpMethod
from litestar.status_codes import HTTP_200_OK, HTTP_302_FOUND
from redis.exceptions import RedisError

from app.domain.lti.deps import launch_dependencies
from app.domain.lti.launch import LaunchRefused, LaunchService
from app.domain.lti.pages import error_page, redirect_page, storage_page
from app.domain.lti.schemas import LtiSessionOut, LtiSessionRequest
from app.lib.auth import PUBLIC
from app.lib.inputs import FormUnreadable, urlencoded_fields


def _log() -> structlog.stdlib.BoundLogger:
    # A logger per refusal, not one bound at import: structlog caches a logger's processors on first use, and
    # refusals are rare enough that binding per call costs nothing (and log capture in tests sees them).
    return structlog.get_logger("lyceum.lti")  # type: ignore[no-any-return]


MAX_FORM_FIELDS = 50


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    """A urlencoded body as name -> first value. Anything else is a LaunchRefused (400/413/415)."""
    try:
        return await urlencoded_fields(request, max_fields=MAX_FORM_FIELDS)
    except FormUnreadable as exc:
        raise LaunchRefused(exc.code, exc.detail, exc.status) from exc


def refused(request: Request[Any, Any, Any], exc: LaunchRefused, step: str) -> Response[str]:
    _log().warning("lti_refused", step=step, code=exc.code, reason=exc.detail, status=exc.status, path=request.url.path)
    return error_page(exc.status, exc.code, exc.detail)


def unavailable(request: Request[Any, Any, Any], step: str) -> Response[str]:
    _log().error("lti_unavailable", step=step, path=request.url.path)
    response = error_page(503, "unavailable", "Lyceum is briefly unavailable; try again in a moment")
    response.headers["Retry-After"] = "5"
    return response


class LtiLaunchController(Controller):
    """The tool's OIDC endpoints, public (the LMS and the browser call them with no Lyceum session)."""

    path = "/lti"
    tags = ["LTI"]
    dependencies = launch_dependencies

    @route(
        "/login",
        http_method=[HttpMethod.GET, HttpMethod.POST],
        opt={PUBLIC: True},
        status_code=HTTP_302_FOUND,
        summary="LTI 1.3 OIDC login initiation (third-party initiated login)",
    )
    async def login(self, request: Request[Any, Any, Any], launch_service: LaunchService) -> Response[str]:
        try:
            if request.method == HttpMethod.POST:
                params = await form_fields(request)
            else:
                params = {name: request.query_params[name] for name in request.query_params}
            outcome = await launch_service.login(params)
        except LaunchRefused as exc:
            return refused(request, exc, "login")
        except RedisError:
            return unavailable(request, "login")
        if outcome.storage_target is None:
            return Response(
                "",
                status_code=HTTP_302_FOUND,
                headers={"Location": outcome.auth_url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
            )
        return storage_page(
            mode="put",
            next_url=outcome.auth_url,
            storage_target=outcome.storage_target,
            state=outcome.state,
            nonce=outcome.nonce,
            origin=outcome.platform_origin,
        )

    @post("/launch", opt={PUBLIC: True}, status_code=HTTP_200_OK, summary="LTI 1.3 launch (id_token, state)")
    async def launch(self, request: Request[Any, Any, Any], launch_service: LaunchService) -> Response[str]:
        try:
            outcome = await launch_service.launch(await form_fields(request))
        except LaunchRefused as exc:
            return refused(request, exc, "launch")
        except RedisError:
            return unavailable(request, "launch")
        if outcome.storage_target is None:
            return redirect_page(outcome.next_url)
        return storage_page(
            mode="get",
            next_url=outcome.next_url,
            storage_target=outcome.storage_target,
            state=outcome.state,
            nonce=outcome.nonce,
            origin=outcome.platform_origin,
        )


class LtiSessionController(Controller):
    """``/v1/lti/session``: the web app trades the launch's one-time code for a session."""

    path = "/lti"
    tags = ["LTI"]
    dependencies = launch_dependencies

    @post(
        "/session",
        opt={PUBLIC: True},
        status_code=HTTP_200_OK,
        summary="Exchange an LTI launch's one-time code for a token pair and the launch context",
    )
    async def session(self, data: LtiSessionRequest, launch_service: LaunchService) -> LtiSessionOut:
        return await launch_service.exchange(data.code)
