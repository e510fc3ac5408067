"""This UTC month's AI spend per org and course, and the month-end figure at the month's pace so far,
against the token budgets (the budget page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import AIInteraction, Course
from app.domain.admin.schemas import SpendLine, SpendView
from app.domain.tutor.services import budget_limits

# The interactions the token budgets are charged for: learners' tutor turns and the authoring preview's.
BUDGETED_PURPOSES = ("tutor", "preview")
# A projection needs some history: before an hour of the month has passed, project from one hour.
MIN_ELAPSED_SECONDS = 3600.0


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


async def month_spend(session: AsyncSession, settings: Settings, org_id: UUID, now: datetime) -> SpendView:
    """``tokens_used`` counts the tutor's tokens (what the budgets limit: learners' turns and instructors'
    draft-preview turns, which the org's monthly budget is charged for too); ``cost_usd`` every AI call
    (tutoring, previews and grading). Projections are linear: spend so far divided by the share of the month gone."""
    start, end = month_bounds(now)
    elapsed = min(max((now - start).total_seconds(), MIN_ELAPSED_SECONDS) / (end - start).total_seconds(), 1.0)
    tutor_tokens = func.coalesce(
        func.sum(AIInteraction.input_tokens + AIInteraction.output_tokens).filter(
            AIInteraction.purpose.in_(BUDGETED_PURPOSES)
        ),
        0,
    )
    cost = func.coalesce(func.sum(AIInteraction.cost_usd), 0)
    month = (AIInteraction.created_at >= start, AIInteraction.created_at < end)
    limits = await budget_limits(session, settings)
    org_tokens, org_cost = (await session.execute(select(tutor_tokens, cost).where(*month))).one()
    rows = (
        await session.execute(
            select(AIInteraction.course_id, Course.title, tutor_tokens, cost)
            .join(Course, Course.id == AIInteraction.course_id)
            .where(*month)
            .group_by(AIInteraction.course_id, Course.title)
            .order_by(cost.desc(), Course.title)
        )
    ).all()

    def line(scope: Literal["org", "course"], id_: UUID, title: str, tokens: Any, usd: Any, limit: int) -> SpendLine:
        projected = round(int(tokens) / elapsed)
        return SpendLine(
            scope=scope,
            id=id_,
            title=title,
            tokens_used=int(tokens),
            cost_usd=round(float(usd), 4),
            projected_tokens=projected,
            projected_cost_usd=round(float(usd) / elapsed, 2),
            limit_tokens=limit if limit > 0 else None,
            projected_share=round(projected / limit, 3) if limit > 0 else None,
        )

    return SpendView(
        month_start=start,
        month_end=end,
        elapsed=round(elapsed, 4),
        org=line("org", org_id, "Whole organization", org_tokens, org_cost, limits.org_monthly),
        courses=[line("course", cast(UUID, r[0]), r[1], r[2], r[3], limits.course_monthly) for r in rows],
    )
