"""Experiments (org admins): create and edit, start and stop, every change audited; results per arm.

Every change to a running experiment (and its start and stop) bumps the org's tutor cache version, so the
next tutor turn on every API process assigns learners under the new state (``ChatCache``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import msgspec
from sqlalchemy import Float, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AIFeedback, AIInteraction, Course, Experiment
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.experiments.schemas import (
    Arm,
    ExperimentIn,
    ExperimentOut,
    ExperimentResults,
    ExperimentStatus,
    ExperimentUpdate,
    Interval,
    Rate,
    Variant,
)
from app.domain.experiments.stats import mean_interval, wilson_interval
from app.domain.tutor.chat_cache import ChatCache
from app.domain.tutor.experiment_assignment import CONTROL
from app.domain.tutor.prompts import PromptError, PromptRegistry
from app.lib.errors import Conflict, NotFound, ValidationFailed

MAX_EXPERIMENTS_PER_ORG = 200


def _variants_json(variants: list[Variant]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(v) for v in variants]


def _snapshot(row: Experiment) -> dict[str, Any]:
    return {
        "key": row.key,
        "description": row.description,
        "prompt": row.prompt,
        "course_id": str(row.course_id) if row.course_id else None,
        "rollout_percent": row.rollout_percent,
        "variants": row.variants,
        "status": row.status,
    }


def experiment_out(row: Experiment, course_title: str | None) -> ExperimentOut:
    return ExperimentOut(
        id=row.id,
        key=row.key,
        description=row.description,
        prompt=row.prompt,
        course_id=row.course_id,
        course_title=course_title if row.course_id else None,
        rollout_percent=row.rollout_percent,
        variants=msgspec.convert(row.variants, list[Variant]),
        status=cast(ExperimentStatus, row.status),
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_variant_keys(variants: list[Variant]) -> None:
    seen: set[str] = set()
    for n, variant in enumerate(variants):
        if variant.key == CONTROL:
            raise ValidationFailed(
                '"control" is the arm of learners outside the rollout; name the variant otherwise',
                errors=[{"pointer": f"#/variants/{n}/key", "detail": 'must not be "control"'}],
            )
        if variant.key in seen:
            raise ValidationFailed(
                f"Two variants are named {variant.key!r}; variant keys are unique",
                errors=[{"pointer": f"#/variants/{n}/key", "detail": "duplicate variant key"}],
            )
        seen.add(variant.key)


@dataclass(eq=False, repr=False, kw_only=True)
class ExperimentService(TenantService):
    prompts: PromptRegistry
    chats: ChatCache  # tutor processes cache the running experiments: told after each change commits

    # ------------------------------------------------------------------ helpers

    async def _row(self, session: AsyncSession, experiment_id: UUID, *, lock: bool = False) -> Experiment:
        row = await session.get(Experiment, experiment_id, with_for_update=lock)
        if row is None:
            raise NotFound("No such experiment in this organization")
        return row

    async def _course_title(self, session: AsyncSession, course_id: UUID | None) -> str | None:
        if course_id is None:
            return None
        return await session.scalar(select(Course.title).where(Course.id == course_id))

    async def _check_course(self, session: AsyncSession, course_id: UUID | None) -> None:
        if course_id is not None and await self._course_title(session, course_id) is None:
            raise ValidationFailed(
                "No such course in this organization",
                errors=[{"pointer": "#/course_id", "detail": "unknown course"}],
            )

    async def _prompt_versions(self, session: AsyncSession, prompt: str) -> set[str]:
        """The versions a variant can name: the prompt file's, less withdrawn ones, plus active overrides."""
        try:
            versions = {v.version for v in self.prompts.file(prompt).versions}
        except PromptError as exc:
            raise ValidationFailed(f"No prompt named {prompt!r}") from exc
        for override in await self.prompts.overrides(session, prompt):
            if override.active:
                versions.add(override.version)
            else:
                versions.discard(override.version)
        return versions

    async def _check_variants(self, session: AsyncSession, prompt: str, variants: list[Variant]) -> None:
        _check_variant_keys(variants)
        known = await self._prompt_versions(session, prompt)
        for n, variant in enumerate(variants):
            if variant.prompt_version is not None and variant.prompt_version not in known:
                raise ValidationFailed(
                    f"The {prompt} prompt has no active version {variant.prompt_version!r}",
                    errors=[
                        {
                            "pointer": f"#/variants/{n}/prompt_version",
                            "detail": f"one of: {', '.join(sorted(known))}",
                        }
                    ],
                )

    def _audit(
        self,
        session: AsyncSession,
        action: str,
        row: Experiment,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        record_audit_by(
            session,
            self.principal,
            action=action,
            entity_type="experiment",
            entity_id=row.id,
            before=before,
            after=after,
            request_id=self.request_id,
        )

    async def _out(self, session: AsyncSession, row: Experiment) -> ExperimentOut:
        await session.flush()
        await session.refresh(row)
        return experiment_out(row, await self._course_title(session, row.course_id))

    # ------------------------------------------------------------------ reads

    async def list(self) -> list[ExperimentOut]:
        async with self._tx() as session:
            rows = (
                await session.execute(
                    select(Experiment, Course.title)
                    .outerjoin(Course, Course.id == Experiment.course_id)
                    .order_by(Experiment.created_at.desc(), Experiment.id)
                )
            ).all()
            return [experiment_out(row, title) for row, title in rows]

    async def get(self, experiment_id: UUID) -> ExperimentOut:
        async with self._tx() as session:
            row = await self._row(session, experiment_id)
            return experiment_out(row, await self._course_title(session, row.course_id))

    # ------------------------------------------------------------------ changes

    async def create(self, data: ExperimentIn) -> ExperimentOut:
        async with self._tx() as session:
            await self._check_course(session, data.course_id)
            await self._check_variants(session, data.prompt, data.variants)
            count = await session.scalar(select(func.count(Experiment.id)))
            if (count or 0) >= MAX_EXPERIMENTS_PER_ORG:
                raise ValidationFailed(f"An organization can have at most {MAX_EXPERIMENTS_PER_ORG} experiments")
            row = Experiment(
                org_id=self.principal.org_id,
                key=data.key,
                description=data.description,
                prompt=data.prompt,
                course_id=data.course_id,
                rollout_percent=data.rollout_percent,
                variants=_variants_json(data.variants),
                status="draft",
                created_by=self.principal.user_id,
            )
            try:
                async with session.begin_nested():
                    session.add(row)
                    await session.flush()
            except IntegrityError as exc:
                raise Conflict(
                    f"An experiment named {data.key!r} already exists in this organization",
                    extra={"code": "experiment-key-taken"},
                ) from exc
            self._audit(session, "experiment.created", row, after=_snapshot(row))
            return await self._out(session, row)

    async def update(self, experiment_id: UUID, change: ExperimentUpdate) -> ExperimentOut:
        async with self._tx() as session:
            row = await self._row(session, experiment_id, lock=True)
            if row.status == "stopped":
                raise Conflict("A stopped experiment is read-only", extra={"code": "experiment-stopped"})
            structural = change.variants is not None or change.course_id is not msgspec.UNSET
            if structural and row.status != "draft":
                raise Conflict(
                    "Variants and the course can only change before the experiment starts",
                    extra={"code": "experiment-started"},
                )
            before = _snapshot(row)
            if change.description is not None:
                row.description = change.description
            if change.rollout_percent is not None:
                row.rollout_percent = change.rollout_percent
            if change.variants is not None:
                await self._check_variants(session, row.prompt, change.variants)
                row.variants = _variants_json(change.variants)
            if not isinstance(change.course_id, msgspec.UnsetType):
                await self._check_course(session, change.course_id)
                row.course_id = change.course_id
            after = _snapshot(row)
            changed = [name for name in after if after[name] != before[name]]
            if changed:
                self._audit(
                    session,
                    "experiment.updated",
                    row,
                    before={name: before[name] for name in changed},
                    after={name: after[name] for name in changed},
                )
            out = await self._out(session, row)
        if row.status == "running" and changed:
            await self.chats.invalidate_org(self.principal.org_id)
        return out

    async def start(self, experiment_id: UUID) -> ExperimentOut:
        async with self._tx() as session:
            row = await self._row(session, experiment_id, lock=True)
            if row.status == "running":
                return await self._out(session, row)  # started already: nothing changes
            if row.status == "stopped":
                raise Conflict("A stopped experiment cannot be restarted", extra={"code": "experiment-stopped"})
            # The prompt versions may have been withdrawn since the draft was written.
            await self._check_variants(session, row.prompt, msgspec.convert(row.variants, list[Variant]))
            row.status, row.started_at = "running", datetime.now(UTC)
            try:
                async with session.begin_nested():
                    await session.flush()
            except IntegrityError as exc:
                raise Conflict(
                    "Another experiment is already running on this target (the same course, or the whole org)",
                    extra={"code": "experiment-target-busy"},
                ) from exc
            self._audit(
                session,
                "experiment.started",
                row,
                before={"status": "draft"},
                after={"status": "running", "started_at": row.started_at.isoformat()},
            )
            out = await self._out(session, row)
        await self.chats.invalidate_org(self.principal.org_id)
        return out

    async def stop(self, experiment_id: UUID) -> ExperimentOut:
        async with self._tx() as session:
            row = await self._row(session, experiment_id, lock=True)
            if row.status != "running":
                raise Conflict(f"The experiment is not running (it is {row.status})", extra={"code": "not-running"})
            row.status, row.stopped_at = "stopped", datetime.now(UTC)
            self._audit(
                session,
                "experiment.stopped",
                row,
                before={"status": "running"},
                after={"status": "stopped", "stopped_at": row.stopped_at.isoformat()},
            )
            out = await self._out(session, row)
        await self.chats.invalidate_org(self.principal.org_id)
        return out

    # ------------------------------------------------------------------ results

    async def results(self, experiment_id: UUID) -> ExperimentResults:
        ratings = (
            select(AIFeedback.interaction_id, func.avg(sql_cast(AIFeedback.rating, Float)).label("rating"))
            .where(AIFeedback.source == "learner_rating")
            .group_by(AIFeedback.interaction_id)
            .subquery()
        )
        tokens = sql_cast(AIInteraction.input_tokens + AIInteraction.output_tokens, Float)
        query = (
            select(
                AIInteraction.experiment_variant,
                func.count(func.distinct(AIInteraction.user_id)),
                func.count(AIInteraction.id),
                func.avg(tokens),
                func.stddev_samp(tokens),
                func.count(ratings.c.rating),
                func.avg(ratings.c.rating),
                func.stddev_samp(ratings.c.rating),
                func.count(AIInteraction.id).filter(AIInteraction.mode == "hint"),
                func.count(AIInteraction.id).filter(
                    func.coalesce(func.jsonb_array_length(AIInteraction.guardrail_outcomes), 0) > 0
                ),
            )
            .outerjoin(ratings, ratings.c.interaction_id == AIInteraction.id)
            .where(AIInteraction.experiment_id == experiment_id)
            .group_by(AIInteraction.experiment_variant)
        )
        async with self._tx() as session:
            row = await self._row(session, experiment_id)
            stats = {r[0]: r for r in (await session.execute(query)).all()}
        keys = [CONTROL, *(str(v["key"]) for v in row.variants)]
        return ExperimentResults(
            experiment_id=row.id,
            status=cast(ExperimentStatus, row.status),
            arms=[_arm(key, stats.get(key)) for key in keys],
        )


def _interval(n: int, mean: Any, sd: Any) -> Interval | None:
    if n < 1 or mean is None:
        return None
    low, high = mean_interval(n, float(mean), None if sd is None else float(sd))
    return Interval(n=n, mean=float(mean), low=low, high=high)


def _rate(count: int, n: int) -> Rate | None:
    if n < 1:
        return None
    low, high = wilson_interval(count, n)
    return Rate(n=n, count=count, rate=count / n, low=low, high=high)


def _arm(key: str, r: Any) -> Arm:
    if r is None:
        return Arm(
            variant=key,
            users=0,
            turns=0,
            tokens_per_turn=None,
            rating=None,
            escalation_rate=None,
            guardrail_trigger_rate=None,
        )
    turns = int(r[2])
    return Arm(
        variant=key,
        users=int(r[1]),
        turns=turns,
        tokens_per_turn=_interval(turns, r[3], r[4]),
        rating=_interval(int(r[5]), r[6], r[7]),
        escalation_rate=_rate(int(r[8]), turns),
        guardrail_trigger_rate=_rate(int(r[9]), turns),
    )
