from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, put
from litestar.params import Parameter

from app.domain.admin.deps import admin_dependencies
from app.domain.admin.schemas import (
    BudgetSettings,
    BudgetView,
    PromptComparison,
    PromptVersionIn,
    PromptVersionOut,
    SpendView,
)
from app.domain.admin.services import AdminService
from app.lib.auth import is_admin

PromptName = Annotated[str, Parameter(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
Version = Annotated[str, Parameter(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")]


class AdminController(Controller):
    dependencies = admin_dependencies
    path = "/admin"
    tags = ["Administration"]
    guards = [is_admin]

    @get("/budgets", summary="The org's tutor token budgets, defaults and this month's usage")
    async def get_budgets(self, admin_service: AdminService) -> BudgetView:
        return await admin_service.budgets()

    @get("/budgets/spend", summary="This month's AI spend per org and course and the month-end projection")
    async def get_spend(self, admin_service: AdminService) -> SpendView:
        return await admin_service.spend()

    @put("/budgets", summary="Set the org's tutor token budgets (null = platform default)")
    async def put_budgets(self, data: BudgetSettings, admin_service: AdminService) -> BudgetView:
        return await admin_service.set_budgets(data)

    @get("/prompts/{name:str}", summary="Versions of a prompt: from content/prompts and this org's overrides")
    async def prompt_versions(self, name: PromptName, admin_service: AdminService) -> list[PromptVersionOut]:
        return await admin_service.prompt_versions(name)

    @put(
        "/prompts/{name:str}/versions/{version:str}",
        summary="Create or change an org override of a prompt version (active overrides form the experiment)",
    )
    async def put_prompt_version(
        self,
        name: PromptName,
        version: Version,
        data: PromptVersionIn,
        admin_service: AdminService,
    ) -> PromptVersionOut:
        return await admin_service.put_prompt_version(name, version, data)

    @get("/prompts/{name:str}/compare", summary="Per-version tokens, latency, cost, guardrail triggers and ratings")
    async def compare(self, name: PromptName, admin_service: AdminService) -> PromptComparison:
        return await admin_service.compare(name)
