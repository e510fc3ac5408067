"""A labelled, made-up AI history for the demo org, so a fresh `make dev` shows the AI usage dashboard
(``/admin/ai-usage``) and the budget page's spend card with four weeks of data before anyone has chatted.

Only ``lyceum up`` and ``lyceum seed`` write it (``app/cli.py``), never ``app.seed.seed``: the test suite
seeds with that and asserts exact figures in the demo org. Nothing here is real use, and it says so:

- every interaction's model is ``demo-history:<model>`` (the dashboard's series and ratings table show
  it), its provider ``demo-history`` (``offline`` for the offline tutor's turns, so the offline share
  chart has data) and its object key ``demo-history/...`` (there is no transcript behind it);
- no real account is touched: the turns belong to no user and no session, and the ratings and the graded
  submissions to one inactive, password-less synthetic learner (``demo-history@lyceum.invalid``) who
  belongs to no org and is enrolled nowhere, so no learner's progress, gates or recommendations change.

Deterministic: one fixed random seed; times are relative to the run (the four weeks before it). A re-run
replaces the previous demo history (same numbers, moved up to the new "now") and recomputes the rollup
hours of both, so it never adds up twice.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from uuid import UUID, uuid4

import msgspec
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.content.schema import Rubric
from app.db.engine import Database, create_engine, owner_url
from app.db.models import (
    AIFeedback,
    AIInteraction,
    Assessment,
    Course,
    Grade,
    Membership,
    Organization,
    ReviewItem,
    Submission,
    User,
)
from app.domain.courses.writer import upsert
from app.domain.grading.claude import PROMPT_VERSION as GRADER_PROMPT_VERSION
from app.domain.insights.rollup import recompute
from app.domain.tutor.prompts import PromptRegistry
from app.domain.tutor.providers.offline import MODEL_NAME as OFFLINE_MODEL

DEMO_LABEL: Final = "demo-history"
DEMO_USER_EMAIL: Final = "demo-history@lyceum.invalid"
DEMO_USER_NAME: Final = "Demo history (synthetic learner)"
RANDOM_SEED: Final = 20261201
DAYS: Final = 28
TUTOR_PROMPT: Final = "tutor"
_KEY_PREFIX: Final = f"{DEMO_LABEL}/"
# How busy each UTC hour of a day is.
_HOUR_WEIGHTS: Final = (1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 9, 10, 10, 9, 8, 8, 9, 8, 6, 4, 2)
# Guardrail outcomes a small share of turns carry: (policy, action, blocks the turn).
_GUARDRAILS: Final = (
    ("pii", "redact", False),
    ("off_topic", "flag", False),
    ("injection", "block", True),
    ("answer_leak", "block", True),
)


@dataclass(frozen=True)
class DemoHistoryReport:
    org: str
    interactions: int
    ratings: int
    ai_grades: int
    reviews: int
    rollup_hours: int


def demo_model(model: str) -> str:
    """The model name logged for demo turns: the dashboard's series say they are not real use."""
    return f"{DEMO_LABEL}:{model}"


async def seed_demo_ai_history(
    settings: Settings, org_slug: str = "demo", now: datetime | None = None
) -> DemoHistoryReport:
    """Write (or rewrite) the org's demo AI history over the ``DAYS`` days before ``now`` and refresh its
    usage rollup for the hours touched. Raises ``LookupError`` when the org does not exist."""
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    versions = [v.version for v in PromptRegistry(settings.content_dir / "prompts").file(TUTOR_PROMPT).versions]
    db = Database(create_engine(owner_url(settings.database_url), pool_size=1), pool_size=1)
    try:
        async with db.transaction(None) as session:
            org_id = await session.scalar(select(Organization.id).where(Organization.slug == org_slug))
            if org_id is None:
                raise LookupError(f"demo history: no organisation {org_slug!r}")
            # The synthetic learner belongs to no org (no membership): global, like every user row.
            user = {"email": DEMO_USER_EMAIL, "name": DEMO_USER_NAME, "password_hash": None, "is_active": False}
            user_id = await upsert(await session.connection(), User, user, ["email"], [])
        async with db.transaction(org_id) as session:
            old_hours = await _remove_previous(session, org_id, user_id)
            history = await _write(session, settings, org_id, user_id, versions, end)
        rollup_hours = await recompute(db, org_id, old_hours | history.hours)
    finally:
        await db.dispose()
    return DemoHistoryReport(
        org=org_slug,
        interactions=history.interactions,
        ratings=history.ratings,
        ai_grades=history.ai_grades,
        reviews=history.reviews,
        rollup_hours=rollup_hours,
    )


@dataclass
class _Written:
    hours: set[datetime]
    interactions: int = 0
    ratings: int = 0
    ai_grades: int = 0
    reviews: int = 0


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def _remove_previous(session: AsyncSession, org_id: UUID, user_id: UUID) -> set[datetime]:
    """Delete the org's previous demo history (its ratings and reviews go with it, by cascade); the UTC
    hours it occupied, whose rollup rows must be recomputed without it."""
    demo_rows = (AIInteraction.org_id == org_id, AIInteraction.object_key.startswith(_KEY_PREFIX))
    hours = set(
        await session.scalars(
            select(func.date_trunc("hour", AIInteraction.created_at, "UTC")).where(*demo_rows).distinct()
        )
    )
    await session.execute(delete(AIInteraction).where(*demo_rows))
    await session.execute(delete(Submission).where(Submission.org_id == org_id, Submission.user_id == user_id))
    return {hour.astimezone(UTC) for hour in hours}


def _moment(rng: random.Random, day_start: datetime) -> datetime:
    """A time of the day, mostly in learners' waking hours (UTC)."""
    hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 9, 10, 10, 9, 8, 8, 9, 8, 6, 4, 2])[
        0
    ]
    return day_start + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))


async def _write(
    session: AsyncSession,
    settings: Settings,
    org_id: UUID,
    user_id: UUID,
    versions: list[str],
    end: datetime,
) -> _Written:
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - made-up figures, repeatable on purpose
    courses = list(await session.scalars(select(Course.id).where(Course.org_id == org_id).order_by(Course.slug)))
    written = _Written(hours=set())
    interactions, ratings = _tutor_turns(rng, settings, org_id, user_id, courses, versions, end)
    if interactions:
        await session.execute(insert(AIInteraction), interactions)
    if ratings:
        await session.execute(insert(AIFeedback), ratings)
    written.hours = {_hour(row["created_at"]) for row in interactions}
    written.interactions, written.ratings = len(interactions), len(ratings)
    written.ai_grades, written.reviews = await _grades(session, rng, org_id, user_id, end)
    return written


def _tutor_turns(
    rng: random.Random,
    settings: Settings,
    org_id: UUID,
    user_id: UUID,
    courses: list[UUID],
    versions: list[str],
    end: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """About 40 tutor turns a weekday (fewer at weekends, growing over the weeks), over the org's courses,
    the configured tutor and fallback models, the offline tutor and the tutor prompt's versions; about one
    in eight answered turns rated by the synthetic learner."""
    models = [(settings.tutor_model, 7), (settings.tutor_fallback_model, 3)]
    # The experiment's versions differ a little, as they would: the later ones rate slightly better.
    rating_bias = {version: 0.25 * index for index, version in enumerate(versions)}
    turns: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    first_day = end.replace(hour=0) - timedelta(days=DAYS)
    for day in range(DAYS + 1):
        day_start = first_day + timedelta(days=day)
        weekend = day_start.weekday() >= 5
        count = round((14 if weekend else 34 + day) * rng.uniform(0.8, 1.2))
        for _ in range(count):
            at = _moment(rng, day_start)
            if at >= end:
                continue
            offline = rng.random() < 0.08
            model = OFFLINE_MODEL if offline else rng.choices([m for m, _ in models], [w for _, w in models])[0]
            version = rng.choice(versions)
            guardrail = rng.choices([None, *_GUARDRAILS], weights=[92, 3, 3, 1, 1])[0]
            blocked = guardrail is not None and guardrail[2]
            error = not blocked and rng.random() < 0.01
            input_tokens = 0 if blocked else int(rng.lognormvariate(7.0, 0.35))  # ~1,100, most 550-2,200
            output_tokens = 0 if blocked or error else int(rng.uniform(60, 420))
            if offline:
                first_token = rng.randint(15, 70)
                total = first_token + output_tokens * rng.randint(1, 3)
            elif model == settings.tutor_fallback_model:
                first_token = int(rng.lognormvariate(6.2, 0.3))  # ~500 ms
                total = first_token + output_tokens * rng.randint(6, 10)
            else:
                first_token = int(rng.lognormvariate(6.8, 0.3))  # ~900 ms
                total = first_token + output_tokens * rng.randint(12, 20)
            price_in, price_out = settings.model_price(model)
            interaction_id = uuid4()
            key = f"{_KEY_PREFIX}{org_id}/{len(turns):05d}"
            turns.append(
                {
                    "id": interaction_id,
                    "org_id": org_id,
                    "session_id": None,
                    "user_id": None,
                    "course_id": rng.choice(courses) if courses else None,
                    "item_id": None,
                    "client_message_id": None,
                    "purpose": "tutor",
                    "content_hash": hashlib.sha256(key.encode()).hexdigest(),
                    "object_key": key,
                    "provider": "offline" if offline else DEMO_LABEL,
                    "model": demo_model(model),
                    "prompt_name": TUTOR_PROMPT,
                    "prompt_version": version,
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "cost_usd": Decimal(str(round((input_tokens * price_in + output_tokens * price_out) / 1e6, 6))),
                    "latency_first_token_ms": None if blocked or error else first_token,
                    "latency_total_ms": rng.randint(5, 40)
                    if blocked
                    else (rng.randint(8000, 30000) if error else total),
                    "confidence": None if blocked or error else round(rng.uniform(0.55, 0.97), 3),
                    "status": "blocked" if blocked else ("error" if error else "completed"),
                    "error_code": "provider_timeout" if error else "",
                    "guardrail_outcomes": (
                        []
                        if guardrail is None
                        else [
                            {
                                "name": guardrail[0],
                                "action": guardrail[1],
                                "score": round(rng.uniform(0.7, 1.0), 3),
                                "detail": f"{DEMO_LABEL}: synthetic outcome",
                            }
                        ]
                    ),
                    "mode": rng.choice(["socratic", "socratic", "hint", "explain"]),
                    "sources": [],
                    "latency_retrieval_ms": rng.randint(8, 60),
                    "created_at": at,
                    "updated_at": at,
                }
            )
            rated_at = at + timedelta(minutes=rng.randint(1, 20))
            if not blocked and not error and rated_at < end and rng.random() < 0.12:
                score = 3.6 + rating_bias[version] - (0.4 if offline else 0.0) + rng.gauss(0, 0.9)
                ratings.append(
                    {
                        "id": uuid4(),
                        "org_id": org_id,
                        "source": "learner_rating",
                        "user_id": user_id,
                        "interaction_id": interaction_id,
                        "submission_id": None,
                        "rating": min(5, max(1, round(score))),
                        "comment": "",
                        "ai_score": None,
                        "human_score": None,
                        "details": {"label": DEMO_LABEL},
                        "created_at": rated_at,
                        "updated_at": rated_at,
                    }
                )
    return turns, ratings


async def _grades(
    session: AsyncSession, rng: random.Random, org_id: UUID, user_id: UUID, end: datetime
) -> tuple[int, int]:
    """A few AI-graded short answers a week by the synthetic learner; about a third reviewed by one of the
    org's instructors (a random quality sample or an escalation), who mostly agree with the AI grade.
    Returns (AI grades, reviews)."""
    assessments = list(
        await session.scalars(
            select(Assessment)
            .join(Course, Course.id == Assessment.course_id)
            .where(Course.org_id == org_id, Assessment.kind == "short_answer")
            .order_by(Course.slug, Assessment.id)
        )
    )
    reviewer = await session.scalar(
        select(Membership.user_id)
        .where(Membership.org_id == org_id, Membership.role.in_(["instructor", "admin"]))
        .order_by(Membership.role.desc(), Membership.user_id)
        .limit(1)
    )
    if not assessments or reviewer is None:
        return 0, 0
    submissions: list[dict[str, Any]] = []
    grades: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    first_day = end.replace(hour=0) - timedelta(days=DAYS)
    for number in range(DAYS * 2):
        at = _moment(rng, first_day + timedelta(days=number // 2))
        if at >= end - timedelta(hours=2):
            continue
        assessment = rng.choice(assessments)
        max_score = msgspec.convert(assessment.spec["rubric"], Rubric).max_points()
        submission_id = uuid4()
        submissions.append(
            {
                "id": submission_id,
                "org_id": org_id,
                "assessment_id": assessment.id,
                "user_id": user_id,
                "status": "graded",
                "answer": {"text": f"({DEMO_LABEL}: a synthetic answer)"},
                "idempotency_key": f"{_KEY_PREFIX}{org_id}/{number}",  # unique per user: one per org
                "created_at": at,
                "updated_at": at,
            }
        )
        confidence = round(rng.uniform(0.45, 0.98), 3)
        ai_score = round(max_score * rng.uniform(0.4, 1.0))
        graded_at = at + timedelta(seconds=rng.randint(5, 40))
        grade = {
            "org_id": org_id,
            "submission_id": submission_id,
            "max_score": max_score,
            "feedback": f"({DEMO_LABEL}: synthetic feedback)",
            "prompt_version": GRADER_PROMPT_VERSION,
            "rationale": {"label": DEMO_LABEL},
        }
        grades.append(
            {
                **grade,
                "id": uuid4(),
                "score": ai_score,
                "passed": ai_score >= max_score * assessment.pass_mark,
                "graded_by": "ai",
                "grader_user_id": None,
                "confidence": confidence,
                "created_at": graded_at,
                "updated_at": graded_at,
            }
        )
        reason = "low_confidence" if confidence < 0.6 else ("sample" if rng.random() < 0.2 else None)
        if reason is None:
            continue
        decided_at = graded_at + timedelta(hours=rng.uniform(1, 30))
        if decided_at >= end:
            continue
        accept = rng.random() < (0.8 if reason == "sample" else 0.6)
        human_score = ai_score if accept else min(max_score, max(0, ai_score + rng.choice([-2, -1, 1, 2])))
        reviews.append(
            {
                "id": uuid4(),
                "org_id": org_id,
                "submission_id": submission_id,
                "assessment_id": assessment.id,
                "course_id": assessment.course_id,
                "reason": reason,
                "priority": 1 if reason == "low_confidence" else 3,
                "status": "decided",
                "sla_due_at": graded_at + timedelta(hours=48),
                "decided_by": reviewer,
                "decided_at": decided_at,
                "decision": "accept" if accept else "override",
                "decision_reason": f"({DEMO_LABEL})",
                "created_at": graded_at,
                "updated_at": decided_at,
            }
        )
        if not accept:
            grades.append(
                {
                    **grade,
                    "id": uuid4(),
                    "score": human_score,
                    "passed": human_score >= max_score * assessment.pass_mark,
                    "graded_by": "human",
                    "grader_user_id": reviewer,
                    "confidence": None,
                    "created_at": decided_at,
                    "updated_at": decided_at,
                }
            )
        pairs.append(
            {
                "id": uuid4(),
                "org_id": org_id,
                "source": "human_review",
                "user_id": reviewer,
                "interaction_id": None,
                "submission_id": submission_id,
                "rating": None,
                "comment": f"({DEMO_LABEL})",
                "ai_score": float(ai_score),
                "human_score": float(human_score),
                "details": {
                    "assessment_id": str(assessment.id),
                    "max_score": max_score,
                    "pass_mark": assessment.pass_mark,
                    "prompt_version": GRADER_PROMPT_VERSION,
                    "decision": "accept" if accept else "override",
                    "escalation_reason": reason,
                    "ai_confidence": confidence,
                    "label": DEMO_LABEL,
                },
                "created_at": decided_at,
                "updated_at": decided_at,
            }
        )
    await session.execute(insert(Submission), submissions)
    await session.execute(insert(Grade), grades)
    if reviews:
        await session.execute(insert(ReviewItem), reviews)
        await session.execute(insert(AIFeedback), pairs)
    return len(submissions), len(reviews)
