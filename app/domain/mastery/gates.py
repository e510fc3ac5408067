"""Competency gates (issue 12 §5): an item that ``requires: [{competency, mastery}]`` opens once the
learner's mastery estimate of each listed competency reaches the threshold. Without evidence the estimate
is the competency's prior. Opening a gated item, and submitting to a gated assessment, answer 409 naming
what is missing; the outline and progress show the item locked with the same list."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import msgspec
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Competency, ItemRequirement, MasteryEstimate
from app.lib.errors import Conflict


class MissingCompetency(msgspec.Struct):
    """A competency gate not met yet: the learner's estimate and the threshold."""

    competency_id: UUID
    slug: str
    name: str
    mastery: float  # the learner's current estimate (0-1)
    required: float  # the gate's threshold (0-1)


async def unmet_requirements(
    session: AsyncSession, user_id: UUID, item_ids: Sequence[UUID]
) -> dict[UUID, list[MissingCompetency]]:
    """Per item (of those given), the gates the user does not meet; items without unmet gates are absent.
    One query for any number of items."""
    if not item_ids:
        return {}
    rows = await session.execute(
        select(
            ItemRequirement.item_id,
            ItemRequirement.mastery,
            Competency.id,
            Competency.slug,
            Competency.name,
            Competency.bkt_prior,
            MasteryEstimate.mastery,
        )
        .join(Competency, Competency.id == ItemRequirement.competency_id)
        .outerjoin(
            MasteryEstimate,
            and_(MasteryEstimate.competency_id == Competency.id, MasteryEstimate.user_id == user_id),
        )
        .where(ItemRequirement.item_id.in_(list(item_ids)))
        .order_by(ItemRequirement.item_id, Competency.slug)
    )
    missing: dict[UUID, list[MissingCompetency]] = {}
    for item_id, required, competency_id, slug, name, prior, estimate in rows:
        current = prior if estimate is None else estimate
        if current < required:
            missing.setdefault(item_id, []).append(
                MissingCompetency(
                    competency_id=competency_id,
                    slug=slug,
                    name=name,
                    mastery=round(current, 4),
                    required=required,
                )
            )
    return missing


async def gated_items(session: AsyncSession, user_id: UUID, course_id: UUID) -> set[UUID]:
    """The items of ``course_id`` behind a gate the user does not meet (one query): what must not reach
    them by another way than the item page, e.g. as passages grounding the tutor."""
    current = func.coalesce(MasteryEstimate.mastery, Competency.bkt_prior)
    rows = await session.scalars(
        select(ItemRequirement.item_id)
        .join(Competency, Competency.id == ItemRequirement.competency_id)
        .outerjoin(
            MasteryEstimate,
            and_(MasteryEstimate.competency_id == Competency.id, MasteryEstimate.user_id == user_id),
        )
        .where(Competency.course_id == course_id, current < ItemRequirement.mastery)
    )
    return set(rows)


def gate_conflict(missing: Sequence[MissingCompetency]) -> Conflict:
    """The 409 of a gated item: which competencies, the learner's estimate and the threshold of each."""
    names = ", ".join(f"{m.name} ({m.mastery:.0%} of {m.required:.0%})" for m in missing)
    return Conflict(
        f"This item is locked until you master: {names}",
        extra={"code": "gated", "missing_competencies": msgspec.to_builtins(list(missing))},
    )
