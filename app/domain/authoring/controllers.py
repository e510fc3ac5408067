"""Course authoring routes (``/v1/authoring``, instructors and admins of the org): thin, the service works.

The course travels as YAML text (``Content-Type: application/yaml``), read here within
LYCEUM_AUTHORING_MAX_YAML_BYTES (a 413 before any parsing) and handed to the service as bytes."""

from __future__ import annotations

from typing import Annotated, Any, cast
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import ClientException
from litestar.params import Parameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_304_NOT_MODIFIED

from app.domain.authoring.course_schema import course_schema
from app.domain.authoring.deps import authoring_dependencies
from app.domain.authoring.preview_tutor import PreviewTutor, collect, stream
from app.domain.authoring.schemas import (
    AuthoringCourse,
    CourseDiff,
    CoursePreview,
    DraftCreated,
    DraftDetail,
    MigrationReport,
    PreviewTutorIn,
    Published,
    ValidationOk,
)
from app.domain.authoring.services import AuthoringService
from app.domain.tutor.turns import validate_message
from app.lib.auth import is_staff
from app.lib.conditional import etag_matches
from app.lib.errors import LyceumError, PayloadTooLarge, ValidationFailed
from app.lib.sockets import SSE_HEADERS

# Revalidated on every use (a 304 costs nothing), so a deploy that changes the course format is seen at once.
SCHEMA_CACHE_CONTROL = "private, no-cache"

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


class UnsupportedMediaType(LyceumError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


async def yaml_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The request's YAML text: its media type checked, its size within the authoring limit (from
    Content-Length before reading, and again after, for a chunked body)."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in YAML_TYPES:
        raise UnsupportedMediaType("Send the course as YAML text with 'Content-Type: application/yaml'")
    too_large = PayloadTooLarge(f"A course file may be at most {limit // 1024} KB")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    try:
        body = await request.body()
    except ClientException as exc:  # over LYCEUM_MAX_BODY_BYTES
        raise too_large from exc
    if len(body) > limit:
        raise too_large
    return body


class AuthoringController(Controller):
    dependencies = authoring_dependencies
    path = "/authoring"
    tags = ["Authoring"]
    guards = [is_staff]

    @get("/courses", summary="The org's authored courses with their status (draft, published vN, changes pending)")
    async def list_courses(self, authoring_service: AuthoringService) -> list[AuthoringCourse]:
        return await authoring_service.list_courses()

    @post(
        "/courses",
        status_code=HTTP_201_CREATED,
        summary="Create a draft from course YAML (Content-Type: application/yaml); 422 lists every problem",
    )
    async def create_course(self, request: Request[Any, Any, Any], authoring_service: AuthoringService) -> DraftCreated:
        return await authoring_service.create(
            await yaml_body(request, authoring_service.settings.authoring_max_yaml_bytes)
        )

    @post(
        "/validate",
        status_code=HTTP_200_OK,
        summary="Check course YAML without saving it (the editor's inline errors); 422 lists every problem",
    )
    async def validate_course(
        self, request: Request[Any, Any, Any], authoring_service: AuthoringService
    ) -> ValidationOk:
        return authoring_service.validate(await yaml_body(request, authoring_service.settings.authoring_max_yaml_bytes))

    @get(
        "/schema",
        summary="The course file's JSON Schema (the editor's completion), from the Structs validation uses; "
        "ETag, 304 on If-None-Match",
    )
    async def get_schema(
        self,
        if_none_match: Annotated[str | None, Parameter(header="If-None-Match", required=False, max_length=1000)] = None,
    ) -> Response[dict[str, Any]]:
        schema = course_schema()
        headers = {"ETag": schema.etag, "Cache-Control": SCHEMA_CACHE_CONTROL}
        if etag_matches(if_none_match, schema.etag):
            # No content with a 304 (None renders as none); typed as the 200 so the OpenAPI shows the schema.
            return cast("Response[dict[str, Any]]", Response(None, status_code=HTTP_304_NOT_MODIFIED, headers=headers))
        return Response(schema.document, headers=headers)

    @get("/courses/{draft_id:uuid}", summary="A draft with its YAML and status")
    async def get_course(self, draft_id: UUID, authoring_service: AuthoringService) -> DraftDetail:
        return await authoring_service.get(draft_id)

    @put("/courses/{draft_id:uuid}", summary="Replace the draft's YAML (learners see nothing until it is published)")
    async def replace_course(
        self, draft_id: UUID, request: Request[Any, Any, Any], authoring_service: AuthoringService
    ) -> DraftCreated:
        return await authoring_service.replace(
            draft_id, await yaml_body(request, authoring_service.settings.authoring_max_yaml_bytes)
        )

    @get(
        "/courses/{draft_id:uuid}/preview",
        summary="The learner view of the draft (outline, items, pathway) and its diff; nobody is enrolled",
    )
    async def preview_course(self, draft_id: UUID, authoring_service: AuthoringService) -> CoursePreview:
        return await authoring_service.preview(draft_id)

    @post(
        "/courses/{draft_id:uuid}/preview/tutor",
        status_code=HTTP_200_OK,
        summary="Ask the draft's tutor about a preview item (streams like the learner tutor with Accept: "
        "text/event-stream); answers from the draft, saves no conversation, enrols nobody",
    )
    async def ask_preview_tutor(
        self,
        draft_id: UUID,
        data: PreviewTutorIn,
        request: Request[Any, Any, Any],
        authoring_service: AuthoringService,
        preview_tutor: PreviewTutor,
    ) -> Response[Any]:
        settings = authoring_service.settings
        problem = validate_message(data.text, settings.tutor_max_message_chars)
        if problem:
            raise ValidationFailed(problem, errors=[{"pointer": "#/text", "detail": problem}])
        prompts = preview_tutor.tutor.prompts
        turn = preview_tutor.turn(
            await authoring_service.preview_material(draft_id, data.item_id, data.mode, prompts), data.history
        )
        if "text/event-stream" not in request.headers.get("accept", ""):
            return Response(await collect(turn, data.id or "", data.text), media_type="application/json")
        return ServerSentEvent(stream(turn, data.id or "", data.text, settings.ws_send_queue_size), headers=SSE_HEADERS)

    @get("/courses/{draft_id:uuid}/diff", summary="Items added, removed and changed against the last published version")
    async def diff_course(self, draft_id: UUID, authoring_service: AuthoringService) -> CourseDiff:
        return await authoring_service.diff(draft_id)

    @post(
        "/courses/{draft_id:uuid}/publish",
        status_code=HTTP_200_OK,
        summary="Publish the draft as a new immutable version (audited; search re-indexed)",
    )
    async def publish_course(self, draft_id: UUID, authoring_service: AuthoringService) -> Published:
        return await authoring_service.publish(draft_id)

    @post(
        "/courses/{draft_id:uuid}/migrate",
        status_code=HTTP_200_OK,
        summary="Move learners on older versions to the latest one; reports the items their versions lost",
    )
    async def migrate_learners(self, draft_id: UUID, authoring_service: AuthoringService) -> MigrationReport:
        return await authoring_service.migrate(draft_id)
