"""Issuing a course's Open Badges 3.0 credential to a learner who completed it: once per enrolment.

The ``issue_credential`` job (jobs/tasks.py) calls ``IssuanceService.issue``. In one transaction under the
enrolment's org it locks the enrolment, returns the credential already issued for it (a retried, redelivered
or doubled job issues nothing new; ``credentials.enrollment_id`` is unique as well), builds the
OpenBadgeCredential, validates it against the OBv3 JSON Schema (a credential that fails is never stored:
``CredentialSchemaError``, which the job turns into a dead letter), signs it both ways (Data Integrity
``eddsa-rdfc-2022`` and a VC-JWT, with the org's active key), stores it with its status-list entry and an
audit entry, and returns the bus announcement to publish once that has committed (docs/credentials.md
"Issuance").
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4, uuid5

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.content.loader import default_criteria
from app.db.engine import Database
from app.db.models import Competency, Course, Credential, DeadLetter, Enrollment, User
from app.domain.audit.services import record_audit
from app.domain.credentials.badge import course_badge_data_url
from app.domain.credentials.issuer import issuer_identity, signing_key
from app.domain.credentials.status import allocate_status_entry
from app.domain.webhooks.outbox import record_event
from app.lib.event_payloads import CredentialIssued
from app.lib.jobs import credential_job_key
from app.lib.vc.credential import build_credential, identity_object
from app.lib.vc.integrity import add_proof
from app.lib.vc.schema import schema_errors
from app.lib.vc.vcjwt import sign_jwt

Outcome = Literal["issued", "exists", "not_completed", "missing"]


class CredentialSchemaError(Exception):
    """The credential built for an enrolment fails the OBv3 AchievementCredential schema: it is not issued
    (retrying builds the same credential, so the job dead-letters it at once with ``path``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class IssueResult:
    """``issued``: a new credential (``announcement`` to publish after the commit); ``exists``: the one
    issued before; ``not_completed``/``missing``: the enrolment is not (or no longer) complete, or gone."""

    outcome: Outcome
    credential_id: UUID | None = None
    announcement: CredentialIssued | None = None


def credential_url(settings: Settings, credential_id: UUID) -> str:
    """The credential's id, which is also the address of its public page (the share link)."""
    return f"{settings.base_url}/credentials/{credential_id}"


def achievement_url(settings: Settings, org_slug: str, course_slug: str) -> str:
    return f"{settings.base_url}/orgs/{org_slug}/achievements/{course_slug}"


def subject_id_of(user: User, org_id: UUID) -> str:
    """The learner's registered DID, else a pseudonym stable per org and learner (no e-mail, no name)."""
    return user.credential_did or f"urn:uuid:{uuid5(org_id, str(user.id))}"


def _achievement(
    settings: Settings, org_slug: str, course: Course, competencies: list[Competency], issuer_name: str
) -> dict[str, Any]:
    spec: dict[str, Any] = dict(course.extra.get("credential") or {})
    # Absent (a course seeded before the block existed, or a file without one): the default narrative. An
    # empty string is kept as it is, and fails the schema below (an Achievement needs its criteria).
    criteria = spec["criteria"] if "criteria" in spec else default_criteria(course.title)
    achievement_id = achievement_url(settings, org_slug, course.slug)
    image = str(spec.get("image") or "") or course_badge_data_url(course.title, issuer_name)
    achievement: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": "Course",
        "name": course.title,
        "description": course.summary or course.title,
        "image": {"id": image, "type": "Image", "caption": f"{course.title} badge"},
    }
    if criteria:
        achievement["criteria"] = {"narrative": criteria}
    if competencies:
        achievement["alignment"] = [
            {
                "type": ["Alignment"],
                "targetName": competency.name,
                "targetDescription": competency.description or competency.name,
                "targetUrl": f"{achievement_id}/competencies/{competency.slug}",
                "targetType": "ceasn:Competency",
                "targetCode": competency.slug,
                "targetFramework": course.title,
            }
            for competency in competencies
        ]
    if course.tags:
        achievement["tag"] = list(course.tags)
    return achievement


@dataclass
class IssuanceService:
    """Issues credentials for the org an enrolment belongs to (the worker's jobs carry it, as grading's do;
    the demo seed calls it directly so its learner holds one without a worker)."""

    db: Database
    settings: Settings

    async def issue(self, org_id: UUID, enrollment_id: UUID) -> IssueResult:
        async with self.db.transaction(org_id) as session:
            return await self.issue_in(session, org_id, enrollment_id)

    async def issue_in(self, session: AsyncSession, org_id: UUID, enrollment_id: UUID) -> IssueResult:
        """The same inside the caller's transaction (which must be under ``org_id``)."""
        enrollment = await session.get(Enrollment, enrollment_id, with_for_update=True)
        if enrollment is None or enrollment.org_id != org_id:
            return IssueResult("missing")
        existing = await session.scalar(select(Credential.id).where(Credential.enrollment_id == enrollment_id))
        if existing is not None:
            return IssueResult("exists", existing)
        if enrollment.completed_at is None:
            return IssueResult("not_completed")
        course = await session.get(Course, enrollment.course_id)
        user = await session.get(User, enrollment.user_id)
        if course is None or user is None:
            return IssueResult("missing")
        competencies = list(
            await session.scalars(
                select(Competency).where(Competency.course_id == course.id).order_by(Competency.created_at)
            )
        )
        s = self.settings
        identity = await issuer_identity(session, s, org_id)
        now = datetime.now(UTC).replace(microsecond=0)
        # The credential is valid from when the course was completed (never in the future of its signing).
        valid_from = min(enrollment.completed_at.astimezone(UTC).replace(microsecond=0), now)
        days = (course.extra.get("credential") or {}).get("valid_for_days")
        valid_until = valid_from + timedelta(days=int(days)) if days else None
        status = await allocate_status_entry(session, s, org_id)
        credential_id = uuid4()
        subject_id = subject_id_of(user, org_id)
        achievement = _achievement(s, identity.slug, course, competencies, str(identity.profile.get("name", "")))
        unsigned = build_credential(
            credential_id=credential_url(s, credential_id),
            issuer=identity.profile,
            achievement=achievement,
            subject_id=subject_id,
            identity=identity_object(user.email, secrets.token_hex(16)),
            valid_from=valid_from,
            valid_until=valid_until,
            status_entry=status.entry,
        )
        problems = schema_errors(unsigned)
        if problems:  # rolls the transaction back: the status entry is not used up, nothing is stored
            raise CredentialSchemaError(problems[0].path, problems[0].message)
        key = await signing_key(session, s, org_id)
        session.add(
            Credential(
                id=credential_id,
                org_id=org_id,
                user_id=user.id,
                course_id=course.id,
                enrollment_id=enrollment.id,
                achievement=achievement,
                document=add_proof(unsigned, key, now),
                jwt=sign_jwt(unsigned, key),
                kid=key.kid,
                subject_id=subject_id,
                status_list_id=status.list_id,
                status_index=status.index,
                issued_at=now,
                status="active",
            )
        )
        record_audit(
            session,
            org_id=org_id,
            actor_id=None,
            action="credential.issued",
            entity_type="credential",
            entity_id=credential_id,
            after={"enrollment_id": str(enrollment.id), "course_id": str(course.id), "kid": key.kid},
        )
        await session.flush()
        announcement = CredentialIssued(credential_id=credential_id, course_id=course.id, user_id=user.id)
        await record_event(session, org_id, announcement)  # webhooks: in the issuing transaction
        return IssueResult("issued", credential_id, announcement)

    async def dead_letter(
        self, org_id: UUID, enrollment_id: UUID, attempts: int, reason: str, schema_path: str | None = None
    ) -> None:
        """Issuing failed for good: keep the job for admins (and out of the sweep, which skips enrolments
        with an ``issue_credential`` dead letter)."""
        payload = {"enrollment_id": str(enrollment_id)}
        if schema_path is not None:
            payload["schema_path"] = schema_path
        async with self.db.transaction(org_id) as session:
            session.add(
                DeadLetter(
                    org_id=org_id,
                    job_key=credential_job_key(enrollment_id),
                    function="issue_credential",
                    attempts=attempts,
                    reason=reason[:4000],
                    payload=payload,
                )
            )
