from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get, post
from litestar.response import ServerSentEvent, Stream
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from app.domain.grading.deps import submission_dependencies
from app.domain.grading.schemas import (
    AssessmentOut,
    DeadLetterOut,
    DisagreeIn,
    SubmissionAccepted,
    SubmissionIn,
    SubmissionOut,
    TestRunIn,
    TestRunOut,
)
from app.domain.grading.services import SubmissionService
from app.lib.auth import is_admin, is_member
from app.lib.idempotency import IDEMPOTENT
from app.lib.pagination import Page
from app.lib.sockets import SSE_HEADERS
from app.lib.throttle import RATE_LIMIT


class AssessmentController(Controller):
    dependencies = submission_dependencies
    path = "/assessments"
    tags = ["Assessments"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get("/{assessment_id:uuid}", summary="An assessment as learners see it (no answers or hidden tests)")
    async def get_assessment(self, assessment_id: UUID, submission_service: SubmissionService) -> AssessmentOut:
        return await submission_service.assessment(assessment_id)

    @post(
        "/{assessment_id:uuid}/submissions",
        status_code=HTTP_202_ACCEPTED,
        opt={IDEMPOTENT: True},
        summary="Submit an answer; grading runs in the background (poll GET /v1/submissions/{id})",
    )
    async def submit(
        self, assessment_id: UUID, data: SubmissionIn, submission_service: SubmissionService
    ) -> SubmissionAccepted:
        return await submission_service.submit(assessment_id, data)

    @post(
        "/{assessment_id:uuid}/test-runs",
        status_code=HTTP_200_OK,
        summary="Run your code against the task's visible tests (practice: nothing is graded or saved)",
        description="Code tasks only. Runs in the same sandbox as grading, never against the hidden tests; "
        "failures show the input, the expected and the actual value. Rate limited like submissions. 409 when "
        "the task has no visible tests or you are not enrolled; 503 when this server has no code sandbox.",
    )
    async def run_tests(
        self, assessment_id: UUID, data: TestRunIn, submission_service: SubmissionService
    ) -> TestRunOut:
        return await submission_service.run_visible_tests(assessment_id, data.code)

    @get("/{assessment_id:uuid}/submissions", summary="Your submissions to an assessment, newest first")
    async def my_submissions(self, assessment_id: UUID, submission_service: SubmissionService) -> list[SubmissionOut]:
        return await submission_service.mine(assessment_id)


class ItemAssessmentController(Controller):
    dependencies = submission_dependencies
    path = "/items"
    tags = ["Assessments"]
    guards = [is_member]

    @get("/{item_id:uuid}/assessment", summary="The assessment of a course item (learner view)")
    async def for_item(self, item_id: UUID, submission_service: SubmissionService) -> AssessmentOut:
        return await submission_service.for_item(item_id)


class SubmissionController(Controller):
    dependencies = submission_dependencies
    path = "/submissions"
    tags = ["Assessments"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get("/{submission_id:uuid}", summary="A submission's status and grade (yours, or any in the org for staff)")
    async def get_submission(self, submission_id: UUID, submission_service: SubmissionService) -> SubmissionOut:
        return await submission_service.get(submission_id)

    @get(
        "/{submission_id:uuid}/events",
        summary="Follow your submission live (server-sent events) until it is graded",
        description="`event: submission` carries the submission (as GET /v1/submissions/{id}) now and after "
        "every change (graded, sent to review, a reviewer's decision); the stream ends once it is graded or "
        "failed. Idle streams get `: ping` comments. 503 when the event bus is unavailable.",
    )
    async def follow(self, submission_id: UUID, submission_service: SubmissionService) -> Stream:
        events = await submission_service.watch(submission_id)
        return ServerSentEvent(events, headers=SSE_HEADERS)

    @post(
        "/{submission_id:uuid}/disagree",
        status_code=HTTP_200_OK,
        summary="Contest your grade: a person reviews it",
    )
    async def disagree(
        self, submission_id: UUID, data: DisagreeIn, submission_service: SubmissionService
    ) -> SubmissionOut:
        return await submission_service.disagree(submission_id, data.reason)


class DeadLetterController(Controller):
    dependencies = submission_dependencies
    path = "/admin/dead-letters"
    tags = ["Admin"]
    guards = [is_admin]

    @get("/", summary="Background jobs that failed for good, with the final reason (admins)")
    async def list_dead_letters(
        self, request: Request[Any, Any, Any], submission_service: SubmissionService, page: LimitOffset
    ) -> Page[DeadLetterOut]:
        return Page.of(await submission_service.dead_letters(page), request)
