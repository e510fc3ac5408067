"""LTI 1.3 (issue 14): Lyceum as a tool that LMS platforms launch, deep-link, grade through and roster.

One registration (``lti_platforms``) belongs to exactly one org: every launch through it provisions users,
contexts and links in that org only. The tool's own RSA keys (``lti_tool_keys``) are the service's identity
towards every platform, so they carry no org and no row-level security; their private halves are sealed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

SCORE_POST_STATES = ("pending", "posted", "failed")


class LtiToolKey(Base):
    """The tool's RS256 signing key (LTI requires RSA): signs deep-linking responses and the client
    assertions of AGS/NRPS token requests. Retired keys stay in ``/lti/jwks.json`` until nothing signed
    with them can still be checked (``retired_at`` + the settings' grace period)."""

    __tablename__ = "lti_tool_keys"
    __table_args__ = (Index("uq_lti_tool_keys_active", "active", unique=True, postgresql_where=text("active")),)

    kid: Mapped[str] = mapped_column(String(100), unique=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JsonB)
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class LtiPlatform(OrgScoped, Base):
    """A registered LMS (issuer + client_id), entered by an org admin or by dynamic registration."""

    __tablename__ = "lti_platforms"
    __table_args__ = (
        # (issuer, client_id) names one registration across all orgs: a launch finds its org from it.
        Index("uq_lti_platforms_issuer_client", "issuer", "client_id", unique=True),
        CheckConstraint("registered_by in ('admin', 'dynamic')", name="registered_by_known"),
    )

    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    key_set_url: Mapped[str] = mapped_column(String(1000))
    deployment_ids: Mapped[list[str]] = mapped_column(JsonB, default=list)
    registered_by: Mapped[str] = mapped_column(String(20), default="admin")
    # What dynamic registration learnt (the platform's product family, its registration response), for support.
    extra: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)


class LtiUser(OrgScoped, Base):
    """An LMS user (``sub`` under one registration) and the Lyceum user provisioned for them."""

    __tablename__ = "lti_users"
    __table_args__ = (Index("uq_lti_users_platform_sub", "platform_id", "sub", unique=True),)

    platform_id: Mapped[UUID] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class LtiContext(OrgScoped, Base):
    """An LMS course (context) and the Lyceum course it is linked to, with its service endpoints."""

    __tablename__ = "lti_contexts"
    __table_args__ = (Index("uq_lti_contexts_platform_context", "platform_id", "context_id", unique=True),)

    platform_id: Mapped[UUID] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(500), default="")
    label: Mapped[str] = mapped_column(String(255), default="")
    course_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True, nullable=True
    )
    deployment_id: Mapped[str] = mapped_column(String(255), default="")
    # Names and Role Provisioning Services: the context_memberships_url of the latest launch.
    nrps_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    # Assignment and Grade Services: the lineitems URL and the scopes the platform granted.
    ags_lineitems_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    ags_scopes: Mapped[list[str]] = mapped_column(JsonB, default=list)
    roster_synced_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class LtiContextMember(OrgScoped, Base):
    """A person's membership of an LMS context, as launches and roster syncs saw it. Removed members turn
    ``active = false`` (their enrolment is withdrawn), never deleted."""

    __tablename__ = "lti_context_members"
    __table_args__ = (Index("uq_lti_context_members", "context_pk", "lti_user_pk", unique=True),)

    context_pk: Mapped[UUID] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"), index=True)
    lti_user_pk: Mapped[UUID] = mapped_column(ForeignKey("lti_users.id", ondelete="CASCADE"), index=True)
    roles: Mapped[list[str]] = mapped_column(JsonB, default=list)  # the LTI role URIs, as sent
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LtiResourceLink(OrgScoped, Base):
    """A placement in the LMS (a resource link) and the Lyceum course or item it opens, with its line item."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (Index("uq_lti_resource_links_platform_link", "platform_id", "resource_link_id", unique=True),)

    platform_id: Mapped[UUID] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    context_pk: Mapped[UUID | None] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="CASCADE"), index=True, nullable=True
    )
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(500), default="")
    course_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True, nullable=True
    )
    item_id: Mapped[UUID | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"), index=True, nullable=True)
    # AGS: the line item of this link (from the launch's endpoint claim, or created on demand).
    lineitem_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    score_maximum: Mapped[float | None] = mapped_column(Float, nullable=True)


class LtiScorePost(OrgScoped, Base):
    """One score the tool owes a platform (AGS): written in the transaction that records the grade or the
    escalation, posted by a SAQ job, so a crash between the two loses nothing (the sweep re-queues it)."""

    __tablename__ = "lti_score_posts"
    __table_args__ = (
        Index("uq_lti_score_posts", "submission_id", "resource_link_pk", "grading_progress", unique=True),
        CheckConstraint("status in ('pending', 'posted', 'failed')", name="status_known"),
    )

    submission_id: Mapped[UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    resource_link_pk: Mapped[UUID] = mapped_column(ForeignKey("lti_resource_links.id", ondelete="CASCADE"), index=True)
    lti_user_pk: Mapped[UUID] = mapped_column(ForeignKey("lti_users.id", ondelete="CASCADE"), index=True)
    score_given: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_maximum: Mapped[float] = mapped_column(Float)
    activity_progress: Mapped[str] = mapped_column(String(20))  # Submitted | Completed
    grading_progress: Mapped[str] = mapped_column(String(20))  # PendingManual | FullyGraded
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    posted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
