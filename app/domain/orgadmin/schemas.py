"""Wire shapes of org administration: invitations, the org's courses and their enrolments, progress reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from app.domain.accounts.schemas import Name
from app.domain.auth.schemas import Email, Password, RefreshMode
from app.lib.roles import Role

InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]
# The one-time token as it appears in the link (secrets.token_urlsafe(32): 43 characters).
InvitationTokenText = Annotated[str, msgspec.Meta(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


class InvitationCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    role: Role
    # As for POST /v1/users: an address mixing scripts is refused unless the admin confirms it.
    accept_mixed_script_email: bool = False


class InvitationOut(msgspec.Struct):
    id: UUID
    email: str
    role: str
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime
    invited_by: UUID | None = None
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None


class InvitationLink(msgspec.Struct):
    """A new (or re-sent) invitation and its one-time link, shown this once. Lyceum has no mail transport:
    ``delivery`` says the admin passes the link on (``copy``)."""

    invitation: InvitationOut
    link: str  # absolute, on LYCEUM_PUBLIC_URL
    path: str  # /invite/<token>, for a web app served elsewhere (Vite in development)
    delivery: Literal["copy"] = "copy"


class InvitationToken(msgspec.Struct, forbid_unknown_fields=True):
    token: InvitationTokenText


class InvitationPreview(msgspec.Struct):
    """What the public invitation page shows before the person sets a password."""

    org: str  # slug
    org_name: str
    email: str
    role: str
    expires_at: datetime
    # The org signs in through its SSO provider: the page sends the person there instead (admins excepted:
    # they keep a password, as at sign-in; docs/sso.md).
    sso_required: bool


class InvitationAccept(msgspec.Struct, forbid_unknown_fields=True):
    token: InvitationTokenText
    name: Name
    password: Password
    refresh_mode: RefreshMode = "body"


class AdminCourseOut(msgspec.Struct):
    id: UUID
    slug: str
    title: str
    is_published: bool
    enrolled: int  # every enrolment, whatever its status
    active: int
    completed: int


class CourseVisibility(msgspec.Struct, forbid_unknown_fields=True):
    is_published: bool


class CourseEnrollmentOut(msgspec.Struct):
    id: UUID
    user_id: UUID
    name: str
    email: str
    status: str
    enrolled_at: datetime
    completed_at: datetime | None
    items_done: int
    items_total: int


class FunnelOut(msgspec.Struct):
    enrolled: int
    started: int  # at least one item done
    half_way: int  # at least half the items done
    completed: int


class DecileOut(msgspec.Struct):
    """Enrolments whose share of items done is in [low, high) percent (the last bucket includes 100)."""

    low: int
    high: int
    learners: int


class CourseProgressReport(msgspec.Struct):
    course_id: UUID
    title: str
    items_total: int
    funnel: FunnelOut
    deciles: list[DecileOut]


class AtRiskLearner(msgspec.Struct):
    user_id: UUID
    name: str
    email: str
    enrolled_at: datetime
    last_active_at: datetime
    inactive_days: int
    failed_attempts: int
    items_done: int
    items_total: int
    reasons: list[Literal["inactive", "failing"]]
