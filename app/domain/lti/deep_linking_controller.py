"""``/v1/lti/deep-linking/{id}``: the picker's view of a Deep Linking request and its signed answer."""

from __future__ import annotations

from litestar import Controller, get, post

from app.domain.lti.deep_linking import DeepLinkingService, DeepLinkResponseIn, DeepLinkResponseOut, DeepLinkSettings
from app.domain.lti.deps import deep_linking_dependencies
from app.lib.auth import is_staff
from app.lib.throttle import RATE_LIMIT


class DeepLinkingController(Controller):
    dependencies = deep_linking_dependencies
    path = "/lti/deep-linking"
    tags = ["LTI"]
    guards = [is_staff]
    opt = {RATE_LIMIT: "api"}

    @get(
        "/{dl_id:str}",
        summary="A Deep Linking request's settings, for the content picker",
        description="Only the instructor whose LMS launch opened it (same user, same org): 403 for anyone else, "
        "404 once it has expired (1 hour) or been answered.",
    )
    async def settings_of(self, dl_id: str, deep_linking_service: DeepLinkingService) -> DeepLinkSettings:
        return await deep_linking_service.settings_of(dl_id)

    @post(
        "/{dl_id:str}/response",
        status_code=200,
        summary="Answer a Deep Linking request with the chosen courses and items (once)",
        description="Returns the signed LtiDeepLinkingResponse JWT and the platform's return URL: the page posts "
        "`JWT=<jwt>` there in a form. 422 when the request does not accept resource links, or accepts one item "
        "and several are chosen, or an id is not a course/item of your organisation.",
    )
    async def respond(
        self, dl_id: str, data: DeepLinkResponseIn, deep_linking_service: DeepLinkingService
    ) -> DeepLinkResponseOut:
        return await deep_linking_service.respond(dl_id, data)
