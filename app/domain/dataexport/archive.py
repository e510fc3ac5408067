"""The zip of one person's data in one organization (issue 18 item 5, the right of access and portability).

``collect`` reads every row about the person in the transaction it is given: the worker opens it under the
export's org (and the person as the current user), so row-level security is what keeps another org's rows
out, not a forgotten ``where``. ``build_zip`` writes machine-readable JSON (UTF-8, sorted keys, so two
exports of unchanged data differ only in their time stamps) plus a README saying what each file is.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    AIFeedback,
    AIInteraction,
    Course,
    Credential,
    Enrollment,
    Grade,
    Membership,
    Organization,
    ProgressEvent,
    ReviewCard,
    ReviewItem,
    ReviewLog,
    Submission,
    User,
)
from app.lib.objectstore import ObjectStore

FILES: dict[str, str] = {
    "profile.json": "Your account: id, email, name, when it was created, the DID credentials name you by, "
    "and your roles in this organization.",
    "enrollments.json": "The courses you enrolled in here, their status and where you left off.",
    "progress_events.jsonl": "Your learning record, one event per line (items completed, positions, ...), "
    "in the order they happened.",
    "submissions.json": "Your answers to assessments, each with its grades (score, feedback, the grader's "
    "rationale) and any human review of it (decision, reason, your dispute).",
    "tutor_transcripts.jsonl": "One line per AI tutor (or AI grading) interaction: when, the course and item, "
    "the mode, and the text of the turn (text_available is false when the stored text no longer exists).",
    "ai_feedback.json": "Ratings and comments you gave on AI replies, and feedback recorded on your grades.",
    "spaced_review.json": "Your spaced-review cards (what is due when) and the log of your review answers.",
    "credentials.json": "The credentials issued to you here, as signed documents (Open Badges 3.0 with their "
    "proofs, and the same credential as a VC-JWT).",
}


def _plain(value: Any) -> Any:
    """JSON's own types from what rows hold (UUIDs, times with their zone, exact decimals)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _pick(row: Any, *names: str) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in names}


@dataclass
class ExportData:
    org_name: str
    profile: dict[str, Any]
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    progress_events: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)  # object_key still inside, read later
    ai_feedback: list[dict[str, Any]] = field(default_factory=list)
    review_cards: list[dict[str, Any]] = field(default_factory=list)
    review_logs: list[dict[str, Any]] = field(default_factory=list)
    credentials: list[dict[str, Any]] = field(default_factory=list)


async def collect(session: AsyncSession, user_id: UUID) -> ExportData:
    """Every row about ``user_id`` that the session's org may see (the caller scoped it)."""
    user = await session.get(User, user_id)
    org = (await session.scalars(select(Organization))).first()  # RLS: the current org only
    roles = sorted(await session.scalars(select(Membership.role).where(Membership.user_id == user_id)))
    profile = {"roles": roles}
    if user is not None:
        profile |= _pick(user, "id", "email", "name", "created_at", "credential_did")
    data = ExportData(org_name=org.name if org is not None else "", profile=profile)

    titles = {c.id: c.title for c in await session.scalars(select(Course))}
    for e in await session.scalars(
        select(Enrollment).where(Enrollment.user_id == user_id).order_by(Enrollment.created_at, Enrollment.id)
    ):
        row = _pick(e, "id", "course_id", "status", "created_at", "completed_at", "last_item_id", "last_item_at")
        data.enrollments.append(row | {"course_title": titles.get(e.course_id, "")})

    data.progress_events = [
        _pick(p, "id", "created_at", "type", "course_id", "stream_id", "version", "payload")
        for p in await session.scalars(
            select(ProgressEvent)
            .where(ProgressEvent.user_id == user_id)
            .order_by(ProgressEvent.created_at, ProgressEvent.stream_id, ProgressEvent.version)
        )
    ]

    submissions = list(
        await session.scalars(
            select(Submission).where(Submission.user_id == user_id).order_by(Submission.created_at, Submission.id)
        )
    )
    ids = [s.id for s in submissions]
    grades: dict[UUID, list[dict[str, Any]]] = {}
    reviews: dict[UUID, dict[str, Any]] = {}
    if ids:
        for g in await session.scalars(
            select(Grade).where(Grade.submission_id.in_(ids)).order_by(Grade.created_at, Grade.id)
        ):
            grades.setdefault(g.submission_id, []).append(
                _pick(g, "created_at", "score", "max_score", "passed", "feedback", "rationale", "graded_by")
            )
        for r in await session.scalars(select(ReviewItem).where(ReviewItem.submission_id.in_(ids))):
            reviews[r.submission_id] = _pick(
                r, "reason", "status", "decision", "decision_reason", "decided_at", "dispute_reason"
            )
    data.submissions = [
        _pick(s, "id", "created_at", "assessment_id", "status", "answer", "detail")
        | {"grades": grades.get(s.id, []), "review": reviews.get(s.id)}
        for s in submissions
    ]

    data.interactions = [
        _pick(i, "id", "created_at", "session_id", "course_id", "item_id", "purpose", "mode", "model", "status")
        | {"object_key": i.object_key}
        for i in await session.scalars(
            select(AIInteraction)
            .where(AIInteraction.user_id == user_id)
            .order_by(AIInteraction.created_at, AIInteraction.id)
        )
    ]
    data.ai_feedback = [
        _pick(f, "id", "created_at", "source", "interaction_id", "submission_id", "rating", "comment")
        | _pick(f, "ai_score", "human_score")
        for f in await session.scalars(
            select(AIFeedback).where(AIFeedback.user_id == user_id).order_by(AIFeedback.created_at, AIFeedback.id)
        )
    ]
    data.review_cards = [
        _pick(c, "id", "course_id", "competency_id", "source_item_id", "due_at", "last_review_at", "reps", "lapses")
        | _pick(c, "fsrs", "created_at")
        for c in await session.scalars(
            select(ReviewCard).where(ReviewCard.user_id == user_id).order_by(ReviewCard.created_at, ReviewCard.id)
        )
    ]
    data.review_logs = [
        _pick(r, "id", "card_id", "answered_at", "question_ref", "choice", "correct", "rating")
        | _pick(r, "due_before", "due_after")
        for r in await session.scalars(
            select(ReviewLog).where(ReviewLog.user_id == user_id).order_by(ReviewLog.answered_at, ReviewLog.id)
        )
    ]
    data.credentials = [
        _pick(c, "id", "course_id", "status", "issued_at", "revoked_at", "revocation_reason", "display_name")
        | _pick(c, "document", "jwt")
        for c in await session.scalars(
            select(Credential).where(Credential.user_id == user_id).order_by(Credential.issued_at, Credential.id)
        )
    ]
    return data


async def transcript_lines(objects: ObjectStore, interactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each interaction with the text of its turn from the object store. A file that is gone (purged by
    retention, or never written) is not an error: its line says ``text_available: false``."""
    lines = []
    for row in interactions:
        line = {k: v for k, v in row.items() if k != "object_key"}
        text: dict[str, Any] | None = None
        try:
            content = msgspec.json.decode(await objects.get(row["object_key"]))
        except (FileNotFoundError, ValueError, msgspec.DecodeError):
            content = None
        if isinstance(content, dict):
            text = {"user": content.get("user", ""), "reply": content.get("reply", "")}
        lines.append(line | {"text": text, "text_available": text is not None})
    return lines


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode()


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows).encode()


def readme(data: ExportData, generated_at: datetime) -> bytes:
    listing = "\n".join(f"{name}\n    {about}\n" for name, about in FILES.items())
    return (
        f"Lyceum: your personal data in the organization {data.org_name!r}\n"
        f"Generated at {generated_at.isoformat()} (UTC).\n\n"
        "Every file is UTF-8 JSON (keys sorted); .jsonl files hold one JSON object per line.\n"
        "Times are ISO 8601 with their zone; ids are UUIDs.\n\n"
        f"{listing}"
    ).encode()


def build_zip(data: ExportData, transcripts: list[dict[str, Any]], generated_at: datetime) -> bytes:
    files = {
        "README.txt": readme(data, generated_at),
        "profile.json": _json(data.profile),
        "enrollments.json": _json(data.enrollments),
        "progress_events.jsonl": _jsonl(data.progress_events),
        "submissions.json": _json(data.submissions),
        "tutor_transcripts.jsonl": _jsonl(transcripts),
        "ai_feedback.json": _json(data.ai_feedback),
        "spaced_review.json": _json({"review_cards": data.review_cards, "review_logs": data.review_logs}),
        "credentials.json": _json(data.credentials),
    }
    buffer = io.BytesIO()
    stamp = generated_at.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()
