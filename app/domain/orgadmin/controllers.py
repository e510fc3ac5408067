"""Org administration routes (issue 17): invitations (admins), the org's courses and enrolments (admins),
learners' progress (instructors and admins), and the public invitation page's two calls."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, Response, get, post, put
from litestar.params import Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.config import Settings
from app.domain.auth.cookies import deliver
from app.domain.auth.deps import auth_dependencies
from app.domain.auth.schemas import TokenPair
from app.domain.orgadmin.acceptance import InvitationAcceptance
from app.domain.orgadmin.courses import OrgCourseService
from app.domain.orgadmin.deps import acceptance_dependencies, orgadmin_dependencies
from app.domain.orgadmin.invitations import InvitationService
from app.domain.orgadmin.progress import AtRiskRule, ProgressReportService
from app.domain.orgadmin.schemas import (
    AdminCourseOut,
    AtRiskLearner,
    CourseEnrollmentOut,
    CourseProgressReport,
    CourseVisibility,
    InvitationAccept,
    InvitationCreate,
    InvitationLink,
    InvitationOut,
    InvitationPreview,
    InvitationStatus,
    InvitationToken,
)
from app.lib.auth import PUBLIC, is_admin, is_member, is_staff
from app.lib.pagination import Page
from app.lib.security.tokens import TokenCodec

InactiveDays = Annotated[
    int, Parameter(query="inactive_days", ge=1, le=3650, description="Inactive for at least this many days")
]
FailedAttempts = Annotated[
    int, Parameter(query="failed_attempts", ge=1, le=1000, description="At least this many failed attempts")
]


class OrgAdminController(Controller):
    dependencies = orgadmin_dependencies
    path = "/admin"
    tags = ["Administration"]
    guards = [is_member]

    @get("/invitations", guards=[is_admin], summary="The org's invitations, newest first (admins)")
    async def list_invitations(
        self,
        request: Request[Any, Any, Any],
        invitation_service: InvitationService,
        page: LimitOffset,
        status: Annotated[InvitationStatus | None, Parameter(query="status")] = None,
    ) -> Page[InvitationOut]:
        return Page.of(await invitation_service.list(page, status), request)

    @post(
        "/invitations",
        guards=[is_admin],
        status_code=HTTP_201_CREATED,
        summary="Invite an email address with a role; the one-time link is in the answer, once (admins)",
    )
    async def invite(self, data: InvitationCreate, invitation_service: InvitationService) -> InvitationLink:
        return await invitation_service.invite(data)

    @post(
        "/invitations/{invitation_id:uuid}/revoke",
        guards=[is_admin],
        status_code=HTTP_200_OK,
        summary="Withdraw an invitation: its link stops working (admins)",
    )
    async def revoke_invitation(self, invitation_id: UUID, invitation_service: InvitationService) -> InvitationOut:
        return await invitation_service.revoke(invitation_id)

    @post(
        "/invitations/{invitation_id:uuid}/resend",
        guards=[is_admin],
        status_code=HTTP_200_OK,
        summary="A new link for an open invitation, valid 7 days; the previous link stops working (admins)",
    )
    async def resend_invitation(self, invitation_id: UUID, invitation_service: InvitationService) -> InvitationLink:
        return await invitation_service.resend(invitation_id)

    @get("/courses", guards=[is_admin], summary="The org's courses, their visibility and enrolment counts (admins)")
    async def list_courses(
        self, request: Request[Any, Any, Any], org_course_service: OrgCourseService, page: LimitOffset
    ) -> Page[AdminCourseOut]:
        return Page.of(await org_course_service.list(page), request)

    @put(
        "/courses/{course_id:uuid}/visibility",
        guards=[is_admin],
        summary="Publish or unpublish a course: unpublished, it leaves the catalogue; enrolled learners keep it",
    )
    async def set_visibility(
        self, course_id: UUID, data: CourseVisibility, org_course_service: OrgCourseService
    ) -> AdminCourseOut:
        return await org_course_service.set_visibility(course_id, data.is_published)

    @get("/courses/{course_id:uuid}/enrollments", guards=[is_admin], summary="A course's enrolments (admins)")
    async def course_enrollments(
        self,
        request: Request[Any, Any, Any],
        course_id: UUID,
        org_course_service: OrgCourseService,
        page: LimitOffset,
    ) -> Page[CourseEnrollmentOut]:
        return Page.of(await org_course_service.enrollments(course_id, page), request)

    @get(
        "/courses/{course_id:uuid}/progress",
        guards=[is_staff],
        summary="A course's completion funnel and progress deciles (instructors and admins)",
    )
    async def course_progress(
        self, course_id: UUID, progress_report_service: ProgressReportService
    ) -> CourseProgressReport:
        return await progress_report_service.report(course_id)

    @get(
        "/courses/{course_id:uuid}/at-risk",
        guards=[is_staff],
        summary="Learners at risk in a course: inactive N days or failing repeatedly (instructors and admins)",
    )
    async def at_risk(
        self,
        request: Request[Any, Any, Any],
        course_id: UUID,
        progress_report_service: ProgressReportService,
        page: LimitOffset,
        inactive_days: InactiveDays = 14,
        failed_attempts: FailedAttempts = 3,
    ) -> Page[AtRiskLearner]:
        rule = AtRiskRule(inactive_days, failed_attempts)
        return Page.of(await progress_report_service.at_risk(course_id, rule, page), request)

    @get(
        "/courses/{course_id:uuid}/at-risk.csv",
        guards=[is_staff],
        media_type="text/csv",
        summary="The at-risk learners as CSV, streamed (instructors and admins)",
    )
    async def at_risk_csv(
        self,
        course_id: UUID,
        progress_report_service: ProgressReportService,
        inactive_days: InactiveDays = 14,
        failed_attempts: FailedAttempts = 3,
    ) -> Response[Any]:
        await progress_report_service.check_course(course_id)
        rule = AtRiskRule(inactive_days, failed_attempts)
        return Stream(
            progress_report_service.at_risk_csv(course_id, rule),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="at-risk-{course_id}.csv"'},
        )


class InvitationController(Controller):
    """The public invitation page's calls. The token travels in the body, not the path, so it stays out of
    access logs; both are rate limited like sign-in."""

    dependencies = {**acceptance_dependencies, "tokens": auth_dependencies["tokens"]}
    path = "/invitations"
    tags = ["Accounts"]

    @post(
        "/preview",
        opt={PUBLIC: True},
        status_code=HTTP_200_OK,
        summary="What an invitation link is for (org, email, role), before accepting it",
    )
    async def preview(self, data: InvitationToken, invitation_acceptance: InvitationAcceptance) -> InvitationPreview:
        return await invitation_acceptance.preview(data.token)

    @post(
        "/accept",
        opt={PUBLIC: True},
        status_code=HTTP_200_OK,
        summary="Accept an invitation: set your name and password, get signed in (the link works once)",
    )
    async def accept(
        self,
        data: InvitationAccept,
        invitation_acceptance: InvitationAcceptance,
        settings: Settings,
        tokens: TokenCodec,
    ) -> Response[TokenPair]:
        pair = await invitation_acceptance.accept(data)
        return deliver(settings, tokens, pair, data.refresh_mode)
