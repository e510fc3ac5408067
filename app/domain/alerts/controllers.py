"""Alert routes: rules under ``/v1/admin/alerts/rules`` (org admins), the alerts list and acknowledgement
under ``/v1/alerts`` (staff: instructors and admins, who also see them on the live feed)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.domain.alerts.deps import alert_dependencies
from app.domain.alerts.schemas import AlertOut, AlertRuleIn, AlertRuleOut, AlertRuleUpdate
from app.domain.alerts.services import AlertService
from app.lib.auth import is_admin, is_staff
from app.lib.pagination import Page


class AlertRuleController(Controller):
    dependencies = alert_dependencies
    path = "/admin/alerts/rules"
    tags = ["Alerts"]
    guards = [is_admin]

    @get("/", summary="The org's alert rules")
    async def list_rules(self, alert_service: AlertService) -> list[AlertRuleOut]:
        return await alert_service.rules()

    @post("/", status_code=HTTP_201_CREATED, summary="Add an alert rule (cost, rating, guardrails, grading)")
    async def create_rule(self, data: AlertRuleIn, alert_service: AlertService) -> AlertRuleOut:
        return await alert_service.create_rule(data)

    @patch("/{rule_id:uuid}", summary="Change a rule's threshold or window, or switch it on or off")
    async def update_rule(self, rule_id: UUID, data: AlertRuleUpdate, alert_service: AlertService) -> AlertRuleOut:
        return await alert_service.update_rule(rule_id, data)

    @delete("/{rule_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Remove a rule (its alerts stay listed)")
    async def delete_rule(self, rule_id: UUID, alert_service: AlertService) -> None:
        await alert_service.delete_rule(rule_id)


class AlertController(Controller):
    dependencies = alert_dependencies
    path = "/alerts"
    tags = ["Alerts"]
    guards = [is_staff]

    @get("/", summary="Alerts fired in the org, newest first (open, unacknowledged or all)")
    async def list_alerts(
        self,
        request: Request[Any, Any, Any],
        alert_service: AlertService,
        page: LimitOffset,
        which: Literal["all", "open", "unacknowledged"] = Parameter(query="state", default="all"),
    ) -> Page[AlertOut]:
        return Page.of(await alert_service.alerts(page, state=which), request)

    @post("/{alert_id:uuid}/acknowledge", status_code=HTTP_200_OK, summary="Acknowledge an alert (someone is on it)")
    async def acknowledge(self, alert_id: UUID, alert_service: AlertService) -> AlertOut:
        return await alert_service.acknowledge(alert_id)
