"""Just-in-time provisioning from LTI identities: users, roles, contexts, members, resource links, enrolments.

Shared by launches (one person at a time) and roster syncs (NRPS, a whole context). Every function runs in
the caller's transaction, which belongs to the registration's org (RLS confines the writes to it), and is
idempotent: a repeated launch or sync changes only what changed.

Concurrent first launches of one LMS user (two tabs, a double click) serialize on a transaction-scoped
advisory lock keyed by (registration, sub), so exactly one Lyceum user is created.

An LMS-asserted email is never used to find an existing Lyceum account (a platform could assert anyone's
address): LTI users get their own account under a synthetic address; their memberships are managed by LTI.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    Course,
    Enrollment,
    LtiContext,
    LtiContextMember,
    LtiPlatform,
    LtiResourceLink,
    LtiUser,
    Membership,
    User,
)
from app.domain.audit.services import record_audit
from app.domain.progress.services import append_progress_event
from app.domain.webhooks.outbox import record_event
from app.lib.event_payloads import UserProvisioned
from app.lib.lti.roles import lyceum_role
from app.lib.roles import Role

SYNTHETIC_EMAIL_DOMAIN = "lti.invalid"  # RFC 2606: never deliverable, never anyone's real address


@dataclass(frozen=True)
class LtiPerson:
    """What a launch or a roster entry says about one person."""

    sub: str
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""  # informational only (see the module docstring)
    roles: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        full = " ".join(part for part in (self.given_name, self.family_name) if part)
        return (self.name or full or "LMS user")[:200]


@dataclass(frozen=True)
class ProvisionedUser:
    lti_user_pk: UUID
    user_id: UUID
    role: Role
    created: bool


def synthetic_email(platform_id: UUID, sub: str) -> str:
    digest = hashlib.sha256(f"{platform_id}|{sub}".encode()).hexdigest()[:24]
    return f"lti-{digest}@{SYNTHETIC_EMAIL_DOMAIN}"


async def _lock(session: AsyncSession, key: str) -> None:
    await session.execute(text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


async def ensure_user(
    session: AsyncSession, platform: LtiPlatform, person: LtiPerson, *, request_id: str = ""
) -> ProvisionedUser:
    """The Lyceum user of ``person`` under ``platform`` (created on first sight) holding exactly the role
    their LTI roles map to in the platform's org."""
    await _lock(session, f"lyceum:lti_user:{platform.id}:{person.sub}")
    role = lyceum_role(person.roles)
    existing = await session.scalar(
        select(LtiUser).where(LtiUser.platform_id == platform.id, LtiUser.sub == person.sub)
    )
    created = existing is None
    if existing is None:
        user_id = uuid.uuid4()  # chosen here: the new row is not visible (RLS) until its membership exists
        await session.execute(
            insert(User).values(
                id=user_id,
                email=synthetic_email(platform.id, person.sub),
                name=person.display_name,
                password_hash=None,  # LTI-only: signs in through its LMS, never with a password
                is_active=True,
            )
        )
        session.add(Membership(org_id=platform.org_id, user_id=user_id, role=role))
        existing = LtiUser(org_id=platform.org_id, platform_id=platform.id, sub=person.sub, user_id=user_id)
        session.add(existing)
        await session.flush()
        record_audit(
            session,
            org_id=platform.org_id,
            actor_id=None,
            action="lti.user_provisioned",
            entity_type="user",
            entity_id=user_id,
            after={"platform_id": str(platform.id), "role": role},
            request_id=request_id,
        )
        await record_event(session, platform.org_id, UserProvisioned(user_id=user_id, role=role, source="lti"))
    else:
        await _set_role(session, platform.org_id, existing.user_id, role)
        if person.display_name != "LMS user":
            await session.execute(update(User).where(User.id == existing.user_id).values(name=person.display_name))
    return ProvisionedUser(lti_user_pk=existing.id, user_id=existing.user_id, role=role, created=created)


async def _set_role(session: AsyncSession, org_id: UUID, user_id: UUID, role: Role) -> None:
    """LTI users' memberships follow their LMS roles: the mapped role, and no other."""
    await session.execute(
        delete(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id, Membership.role != role)
    )
    await session.execute(
        insert(Membership)
        .values(id=uuid.uuid4(), org_id=org_id, user_id=user_id, role=role)
        .on_conflict_do_nothing(index_elements=["org_id", "user_id", "role"])
    )


async def ensure_context(
    session: AsyncSession,
    platform: LtiPlatform,
    context_id: str,
    *,
    title: str = "",
    label: str = "",
    deployment_id: str = "",
    nrps_url: str | None = None,
    ags_lineitems_url: str | None = None,
    ags_scopes: list[str] | None = None,
) -> LtiContext:
    """The LMS context row (created on first sight); titles and service endpoints follow the latest launch."""
    values = {
        "title": title[:500],
        "label": label[:255],
        "deployment_id": deployment_id[:255],
    }
    if nrps_url is not None:
        values["nrps_url"] = nrps_url
    if ags_lineitems_url is not None:
        values["ags_lineitems_url"] = ags_lineitems_url
    statement = insert(LtiContext).values(
        id=uuid.uuid4(),
        org_id=platform.org_id,
        platform_id=platform.id,
        context_id=context_id,
        ags_scopes=ags_scopes or [],
        **values,
    )
    updates = {**values, **({"ags_scopes": ags_scopes} if ags_scopes is not None else {})}
    await session.execute(statement.on_conflict_do_update(index_elements=["platform_id", "context_id"], set_=updates))
    context = await session.scalar(
        select(LtiContext)
        .where(LtiContext.platform_id == platform.id, LtiContext.context_id == context_id)
        .execution_options(populate_existing=True)
    )
    assert context is not None
    return context


async def ensure_member(
    session: AsyncSession, context: LtiContext, provisioned: ProvisionedUser, roles: tuple[str, ...], *, active: bool
) -> None:
    """Record the person's membership of the context; with a linked course, learners are enrolled while
    active and withdrawn (never deleted: their progress stays) when the LMS removes them."""
    await session.execute(
        insert(LtiContextMember)
        .values(
            id=uuid.uuid4(),
            org_id=context.org_id,
            context_pk=context.id,
            lti_user_pk=provisioned.lti_user_pk,
            roles=list(roles),
            active=active,
        )
        .on_conflict_do_update(
            index_elements=["context_pk", "lti_user_pk"], set_={"roles": list(roles), "active": active}
        )
    )
    if context.course_id is not None and provisioned.role == "learner":
        await set_enrollment(session, context.org_id, provisioned.user_id, context.course_id, active=active)


async def set_enrollment(session: AsyncSession, org_id: UUID, user_id: UUID, course_id: UUID, *, active: bool) -> None:
    """Enrol (opening the progress stream, as a self-enrolment does) or withdraw; idempotent."""
    enrollment = await session.scalar(
        select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
    )
    if not active:
        if enrollment is not None and enrollment.status == "active":
            enrollment.status = "withdrawn"
        return
    if enrollment is None:
        course = await session.get(Course, course_id)
        if course is None:
            return
        created_id = (
            await session.execute(
                insert(Enrollment)
                .values(id=uuid.uuid4(), org_id=org_id, user_id=user_id, course_id=course_id, status="active")
                .on_conflict_do_nothing(index_elements=["user_id", "course_id"])
                .returning(Enrollment.id)
            )
        ).scalar_one_or_none()
        enrollment = await session.scalar(
            select(Enrollment)
            .where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
            .execution_options(populate_existing=True)
        )
        assert enrollment is not None
        if created_id is not None:
            await append_progress_event(
                session, enrollment, "enrolled", {"course_slug": course.slug, "via": "lti"}, f"enrolled:{enrollment.id}"
            )
    elif enrollment.status == "withdrawn":
        enrollment.status = "completed" if enrollment.completed_at is not None else "active"


async def ensure_resource_link(
    session: AsyncSession,
    platform: LtiPlatform,
    resource_link_id: str,
    *,
    context: LtiContext | None,
    title: str = "",
    course_id: UUID | None = None,
    item_id: UUID | None = None,
    lineitem_url: str | None = None,
    score_maximum: float | None = None,
) -> LtiResourceLink:
    """The placement row; its target (course/item) is set when first known and never silently moved, the
    line item follows the platform's latest claim."""
    statement = insert(LtiResourceLink).values(
        id=uuid.uuid4(),
        org_id=platform.org_id,
        platform_id=platform.id,
        context_pk=context.id if context is not None else None,
        resource_link_id=resource_link_id,
        title=title[:500],
        course_id=course_id,
        item_id=item_id,
        lineitem_url=lineitem_url,
        score_maximum=score_maximum,
    )
    updates: dict[str, object] = {"title": title[:500]}
    if lineitem_url is not None:
        updates["lineitem_url"] = lineitem_url
    if score_maximum is not None:
        updates["score_maximum"] = score_maximum
    await session.execute(
        statement.on_conflict_do_update(index_elements=["platform_id", "resource_link_id"], set_=updates)
    )
    link = await session.scalar(
        select(LtiResourceLink)
        .where(LtiResourceLink.platform_id == platform.id, LtiResourceLink.resource_link_id == resource_link_id)
        .execution_options(populate_existing=True)
    )
    assert link is not None
    if link.course_id is None and course_id is not None:
        link.course_id = course_id
    if link.item_id is None and item_id is not None:
        link.item_id = item_id
    if context is not None and context.course_id is None and link.course_id is not None:
        context.course_id = link.course_id  # the first linked placement ties the LMS course to a Lyceum course
    return link
