"""What each alert kind measures over its trailing window, inside the org's own transaction (RLS).

A measurement is ``None`` when there is too little to judge (fewer than ``MIN_SAMPLES`` ratings or reviews):
two bad ratings in a quiet hour are not a drop in quality."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Float, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AIFeedback, AIInteraction
from app.domain.alerts.schemas import AlertKind

MIN_SAMPLES: Final = {"rating_drop": 5, "grading_disagreement": 3}
# Kinds that fire when the value falls below the threshold; the others fire at or above it.
FALLING: Final = frozenset({"rating_drop"})


async def measure(session: AsyncSession, kind: AlertKind, window_minutes: int, now: datetime) -> float | None:
    since = now - timedelta(minutes=window_minutes)
    if kind == "cost_burn_rate":  # US dollars per hour over the window
        spent = await session.scalar(
            select(func.coalesce(func.sum(AIInteraction.cost_usd), 0)).where(AIInteraction.created_at >= since)
        )
        return float(spent or 0) * 60 / window_minutes
    if kind == "guardrail_spike":  # interactions where a guardrail acted
        count = await session.scalar(
            select(func.count(AIInteraction.id)).where(
                AIInteraction.created_at >= since,
                func.jsonb_array_length(AIInteraction.guardrail_outcomes) > 0,
                # An instructor probing their own draft's refusals in the preview is not an attack on learners.
                AIInteraction.purpose != "preview",
            )
        )
        return float(count or 0)
    if kind == "rating_drop":
        avg, n = (
            await session.execute(
                select(func.avg(cast(AIFeedback.rating, Float)), func.count(AIFeedback.id)).where(
                    AIFeedback.source == "learner_rating",
                    AIFeedback.rating.is_not(None),
                    AIFeedback.updated_at >= since,
                )
            )
        ).one()
        return float(avg) if n >= MIN_SAMPLES[kind] and avg is not None else None
    # grading_disagreement: the share of human reviews that overrode the AI's grade
    overrides, n = (
        await session.execute(
            select(
                func.count(AIFeedback.id).filter(AIFeedback.details["decision"].astext == "override"),
                func.count(AIFeedback.id),
            ).where(AIFeedback.source == "human_review", AIFeedback.created_at >= since)
        )
    ).one()
    return overrides / n if n >= MIN_SAMPLES[kind] else None


def breaches(kind: str, value: float | None, threshold: float) -> bool:
    if value is None:
        return False
    return value < threshold if kind in FALLING else value >= threshold


def describe_rule(kind: str, threshold: float, window_minutes: int) -> str:
    window = _window(window_minutes)
    if kind == "cost_burn_rate":
        return f"AI spend reaches ${threshold:,.2f} an hour over {window}"
    if kind == "rating_drop":
        return f"Learners' average rating of the tutor falls below {threshold:g} of 5 over {window}"
    if kind == "guardrail_spike":
        return f"Guardrails act on {threshold:g} or more messages in {window}"
    return f"People override {threshold:.0%} or more of the AI's grades they review over {window}"


def describe_alert(kind: str, value: float, threshold: float, window_minutes: int) -> str:
    window = _window(window_minutes)
    if kind == "cost_burn_rate":
        return f"AI spend ran at ${value:,.2f} an hour over {window} (limit ${threshold:,.2f})"
    if kind == "rating_drop":
        return f"Learners rated the tutor {value:.2f} of 5 on average over {window} (alert below {threshold:g})"
    if kind == "guardrail_spike":
        return f"Guardrails acted on {_messages(value)} in {window} (alert at {threshold:g})"
    return f"People overrode {value:.0%} of the AI's grades they reviewed over {window} (alert at {threshold:.0%})"


def _messages(count: float) -> str:
    return "1 message" if count == 1 else f"{count:g} messages"


def _window(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "the last day" if days == 1 else f"the last {days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "the last hour" if hours == 1 else f"the last {hours} hours"
    return f"the last {minutes} minutes"
