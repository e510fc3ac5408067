"""Org administration of the tutor: token budgets and prompt versions/experiments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Float, cast, func, select

from app.config import Settings
from app.db.models import AIFeedback, AIInteraction, OrgBudget, PromptTemplate
from app.domain.admin.schemas import (
    BudgetSettings,
    BudgetView,
    PromptComparison,
    PromptVersionIn,
    PromptVersionOut,
    SpendView,
    VariantStats,
)
from app.domain.admin.spend import month_spend
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.tutor.budgets import BudgetUnavailable, TokenBudget, budget_scopes
from app.domain.tutor.chat_cache import ChatCache
from app.domain.tutor.prompts import PromptError, PromptRegistry
from app.domain.tutor.services import budget_limits
from app.lib.errors import NotFound, ServiceUnavailable


@dataclass(eq=False, repr=False, kw_only=True)
class AdminService(TenantService):
    """The org's token budgets (read from settings' defaults and the tutor's budget counters) and its
    prompt versions (over the tutor's prompt files)."""

    settings: Settings
    budget: TokenBudget
    prompts: PromptRegistry
    chats: ChatCache  # tutor processes cache limits and prompts: told after each change commits

    def _defaults(self) -> BudgetSettings:
        s = self.settings
        return BudgetSettings(
            s.budget_org_monthly_tokens,
            s.budget_course_monthly_tokens,
            s.budget_user_daily_tokens,
            s.budget_session_tokens,
        )

    async def budgets(self) -> BudgetView:
        async with self._tx() as session:
            row = await session.scalar(select(OrgBudget))
            limits = await budget_limits(session, self.settings)
        configured = (
            BudgetSettings(row.org_monthly_tokens, row.course_monthly_tokens, row.user_daily_tokens, row.session_tokens)
            if row
            else BudgetSettings()
        )
        org_scope = budget_scopes(
            self.principal.org_id, self.principal.org_id, self.principal.user_id, self.principal.user_id, limits
        )[0]
        try:
            usage = await self.budget.usage([org_scope])
        except BudgetUnavailable as exc:
            # Redis down: the month's usage cannot be read. A clear 503 to retry, not a 500 (chaos drill).
            raise ServiceUnavailable("Token budget usage cannot be read right now; try again shortly.") from exc
        used, reserved = usage.get(org_scope.name, (0, 0))
        effective = BudgetSettings(limits.org_monthly, limits.course_monthly, limits.user_daily, limits.session)
        return BudgetView(
            configured=configured,
            effective=effective,
            defaults=self._defaults(),
            org_month_used_tokens=used,
            org_month_reserved_tokens=reserved,
        )

    async def spend(self, now: datetime | None = None) -> SpendView:
        async with self._tx() as session:
            return await month_spend(session, self.settings, self.principal.org_id, now or datetime.now(UTC))

    async def set_budgets(self, data: BudgetSettings) -> BudgetView:
        async with self._tx() as session:
            row = await session.scalar(select(OrgBudget).with_for_update())
            before = None
            if row is None:
                row = OrgBudget(org_id=self.principal.org_id)
                session.add(row)
            else:
                before = {
                    "org_monthly_tokens": row.org_monthly_tokens,
                    "course_monthly_tokens": row.course_monthly_tokens,
                    "user_daily_tokens": row.user_daily_tokens,
                    "session_tokens": row.session_tokens,
                }
            row.org_monthly_tokens = data.org_monthly_tokens
            row.course_monthly_tokens = data.course_monthly_tokens
            row.user_daily_tokens = data.user_daily_tokens
            row.session_tokens = data.session_tokens
            record_audit_by(
                session,
                self.principal,
                action="budgets.updated",
                entity_type="org_budget",
                entity_id=self.principal.org_id,
                before=before,
                after={k: getattr(data, k) for k in data.__struct_fields__},
                request_id=self.request_id,
            )
        await self.chats.invalidate_org(self.principal.org_id)
        return await self.budgets()

    async def prompt_versions(self, name: str) -> list[PromptVersionOut]:
        try:
            base = self.prompts.file(name)
        except PromptError as exc:
            raise NotFound(f"No prompt named {name!r}") from exc
        async with self._tx() as session:
            overrides = list(
                await session.scalars(
                    select(PromptTemplate).where(PromptTemplate.name == name).order_by(PromptTemplate.version)
                )
            )
        overridden = {o.version for o in overrides}
        out = [
            PromptVersionOut(name, v.version, v.weight, True, "file", v.system)
            for v in base.versions
            if v.version not in overridden
        ]
        out += [PromptVersionOut(name, o.version, o.weight, o.active, "org", o.system) for o in overrides]
        return out

    async def put_prompt_version(self, name: str, version: str, data: PromptVersionIn) -> PromptVersionOut:
        await self.prompt_versions(name)  # 404 for unknown prompt names
        async with self._tx() as session:
            row = await session.scalar(
                select(PromptTemplate)
                .where(PromptTemplate.name == name, PromptTemplate.version == version)
                .with_for_update()
            )
            if row is None:
                row = PromptTemplate(org_id=self.principal.org_id, name=name, version=version, system=data.system)
                session.add(row)
            row.system, row.weight, row.active = data.system, data.weight, data.active
            record_audit_by(
                session,
                self.principal,
                action="prompt.version_saved",
                entity_type="prompt_template",
                entity_id=f"{name}:{version}",
                after={"weight": data.weight, "active": data.active},
                request_id=self.request_id,
            )
        await self.chats.invalidate_org(self.principal.org_id)
        return PromptVersionOut(name, version, data.weight, data.active, "org", data.system)

    async def compare(self, name: str) -> PromptComparison:
        await self.prompt_versions(name)
        p50 = func.percentile_cont(0.5).within_group
        ratings = (
            select(AIFeedback.interaction_id, func.avg(AIFeedback.rating).label("rating"))
            .where(AIFeedback.source == "learner_rating")
            .group_by(AIFeedback.interaction_id)
            .subquery()
        )
        query = (
            select(
                AIInteraction.prompt_version,
                func.count(AIInteraction.id),
                func.avg(AIInteraction.input_tokens),
                func.avg(AIInteraction.output_tokens),
                p50(AIInteraction.latency_first_token_ms).label("first_token_p50"),
                p50(AIInteraction.latency_total_ms).label("total_p50"),
                func.coalesce(func.sum(AIInteraction.cost_usd), 0),
                func.count(AIInteraction.id).filter(func.jsonb_array_length(AIInteraction.guardrail_outcomes) > 0),
                func.count(AIInteraction.id).filter(AIInteraction.status == "blocked"),
                func.count(ratings.c.rating),
                func.avg(cast(ratings.c.rating, Float)),
            )
            .outerjoin(ratings, ratings.c.interaction_id == AIInteraction.id)
            # Learners' turns only: instructors trying a draft in the preview are not the experiment's sample.
            .where(AIInteraction.prompt_name == name, AIInteraction.purpose != "preview")
            .group_by(AIInteraction.prompt_version)
            .order_by(AIInteraction.prompt_version)
        )
        async with self._tx() as session:
            rows = (await session.execute(query)).all()
        return PromptComparison(
            name=name,
            variants=[
                VariantStats(
                    version=r[0],
                    interactions=r[1],
                    input_tokens_avg=round(float(r[2] or 0), 1),
                    output_tokens_avg=round(float(r[3] or 0), 1),
                    first_token_ms_p50=_maybe(r[4]),
                    total_ms_p50=_maybe(r[5]),
                    cost_usd_total=round(float(r[6]), 6),
                    guardrail_triggers=r[7],
                    blocked=r[8],
                    ratings=r[9],
                    rating_avg=_maybe(r[10], 2),
                )
                for r in rows
            ],
        )


def _maybe(value: object, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)  # type: ignore[arg-type]
