"""Staff routes for linked LMS contexts: the list (with members and last roster sync) and the roster sync."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get, post
from litestar.status_codes import HTTP_202_ACCEPTED

from app.domain.lti.contexts import LtiContextOut, LtiContextService, RosterSyncQueued
from app.domain.lti.deps import lti_context_dependencies
from app.lib.auth import is_staff
from app.lib.pagination import Page


class LtiContextController(Controller):
    dependencies = lti_context_dependencies
    path = "/lti/contexts"
    tags = ["LTI"]
    guards = [is_staff]

    @get("/", summary="The org's linked LMS contexts: course, member counts, services, last roster sync (staff)")
    async def list_contexts(
        self, request: Request[Any, Any, Any], lti_context_service: LtiContextService, page: LimitOffset
    ) -> Page[LtiContextOut]:
        return Page.of(await lti_context_service.list(page), request)

    @post(
        "/{context_id:uuid}/roster-sync",
        status_code=HTTP_202_ACCEPTED,
        summary="Queue a roster sync (NRPS) of one context (instructors and admins); 409 without a roster service",
    )
    async def roster_sync(self, context_id: UUID, lti_context_service: LtiContextService) -> RosterSyncQueued:
        return await lti_context_service.request_sync(context_id)
