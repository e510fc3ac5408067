"""Alert rules (admins) and the alerts list with acknowledgement (staff)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Alert, AlertRule
from app.domain.alerts.metrics import describe_alert, describe_rule
from app.domain.alerts.schemas import (
    AlertKind,
    AlertOut,
    AlertRuleIn,
    AlertRuleOut,
    AlertRuleUpdate,
)
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.lib.errors import NotFound, ValidationFailed

MAX_RULES_PER_ORG = 50
# Per kind, the thresholds that mean something (a rating is 1-5, a share 0-1, a count at least 1).
_THRESHOLD_RANGE: dict[str, tuple[float, float, str]] = {
    "cost_burn_rate": (0.01, 1_000_000, "US dollars per hour, at least 0.01"),
    "rating_drop": (1, 5, "an average rating from 1 to 5"),
    "guardrail_spike": (1, 1_000_000, "a number of messages, at least 1"),
    "grading_disagreement": (0.01, 1, "a share from 0.01 to 1 (1 = every reviewed grade overridden)"),
}


def _check_threshold(kind: str, threshold: float) -> None:
    low, high, meaning = _THRESHOLD_RANGE[kind]
    if not low <= threshold <= high:
        raise ValidationFailed(
            f"The threshold of a {kind.replace('_', ' ')} rule is {meaning}",
            errors=[{"pointer": "#/threshold", "detail": f"must be between {low:g} and {high:g}"}],
        )


def rule_out(row: AlertRule) -> AlertRuleOut:
    return AlertRuleOut(
        id=row.id,
        kind=cast(AlertKind, row.kind),
        threshold=row.threshold,
        window_minutes=row.window_minutes,
        enabled=row.enabled,
        description=describe_rule(row.kind, row.threshold, row.window_minutes),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def alert_out(row: Alert) -> AlertOut:
    return AlertOut(
        id=row.id,
        rule_id=row.rule_id,
        kind=cast(AlertKind, row.kind),
        value=row.value,
        threshold=row.threshold,
        window_minutes=row.window_minutes,
        message=describe_alert(row.kind, row.value, row.threshold, row.window_minutes),
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
    )


def _snapshot(row: AlertRule) -> dict[str, Any]:
    return {"kind": row.kind, "threshold": row.threshold, "window_minutes": row.window_minutes, "enabled": row.enabled}


@dataclass(eq=False, repr=False, kw_only=True)
class AlertService(TenantService):
    settings: Settings

    async def _rule(self, session: AsyncSession, rule_id: UUID) -> AlertRule:
        row = await session.get(AlertRule, rule_id, with_for_update=True)
        if row is None:
            raise NotFound("No such alert rule in this organization")
        return row

    # ------------------------------------------------------------------ rules (admins)

    async def rules(self) -> list[AlertRuleOut]:
        async with self._tx() as session:
            rows = await session.scalars(select(AlertRule).order_by(AlertRule.created_at, AlertRule.id))
            return [rule_out(r) for r in rows]

    async def create_rule(self, data: AlertRuleIn) -> AlertRuleOut:
        _check_threshold(data.kind, data.threshold)
        async with self._tx() as session:
            count = await session.scalar(select(func.count(AlertRule.id)))
            if (count or 0) >= MAX_RULES_PER_ORG:
                raise ValidationFailed(f"An organization can have at most {MAX_RULES_PER_ORG} alert rules")
            row = AlertRule(
                org_id=self.principal.org_id,
                kind=data.kind,
                threshold=data.threshold,
                window_minutes=data.window_minutes,
                enabled=data.enabled,
                created_by=self.principal.user_id,
            )
            session.add(row)
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="alert_rule.created",
                entity_type="alert_rule",
                entity_id=row.id,
                after=_snapshot(row),
                request_id=self.request_id,
            )
            await session.flush()
            await session.refresh(row)
            return rule_out(row)

    async def update_rule(self, rule_id: UUID, change: AlertRuleUpdate) -> AlertRuleOut:
        async with self._tx() as session:
            row = await self._rule(session, rule_id)
            before = _snapshot(row)
            threshold = row.threshold if change.threshold is None else change.threshold
            _check_threshold(row.kind, threshold)
            row.threshold = threshold
            if change.window_minutes is not None:
                row.window_minutes = change.window_minutes
            if change.enabled is not None:
                row.enabled = change.enabled
            if not row.enabled:  # a rule switched off stops its open alert: nothing watches it any more
                await _resolve_open(session, row.id)
            record_audit_by(
                session,
                self.principal,
                action="alert_rule.updated",
                entity_type="alert_rule",
                entity_id=row.id,
                before=before,
                after=_snapshot(row),
                request_id=self.request_id,
            )
            await session.flush()
            await session.refresh(row)
            return rule_out(row)

    async def delete_rule(self, rule_id: UUID) -> None:
        """Remove a rule; its alerts stay in the list (resolved), without their rule."""
        async with self._tx() as session:
            row = await self._rule(session, rule_id)
            await _resolve_open(session, row.id)
            record_audit_by(
                session,
                self.principal,
                action="alert_rule.deleted",
                entity_type="alert_rule",
                entity_id=row.id,
                before=_snapshot(row),
                request_id=self.request_id,
            )
            await session.delete(row)

    # ------------------------------------------------------------------ alerts (staff)

    async def alerts(self, page: LimitOffset, *, state: str = "all") -> OffsetPagination[AlertOut]:
        conditions = []
        if state == "open":
            conditions.append(Alert.resolved_at.is_(None))
        elif state == "unacknowledged":
            conditions.append(Alert.acknowledged_at.is_(None))
        async with self._tx() as session:
            total = await session.scalar(select(func.count(Alert.id)).where(*conditions))
            rows = await session.scalars(
                select(Alert)
                .where(*conditions)
                .order_by(Alert.fired_at.desc(), Alert.id)
                .limit(page.limit)
                .offset(page.offset)
            )
            items = [alert_out(r) for r in rows]
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total or 0)

    async def acknowledge(self, alert_id: UUID) -> AlertOut:
        """Say someone is on it; acknowledging again changes nothing (the first person and time stay)."""
        async with self._tx() as session:
            row = await session.get(Alert, alert_id, with_for_update=True)
            if row is None:
                raise NotFound("No such alert in this organization")
            if row.acknowledged_at is None:
                row.acknowledged_at, row.acknowledged_by = datetime.now(UTC), self.principal.user_id
                record_audit_by(
                    session,
                    self.principal,
                    action="alert.acknowledged",
                    entity_type="alert",
                    entity_id=row.id,
                    request_id=self.request_id,
                )
            await session.flush()
            return alert_out(row)


async def _resolve_open(session: AsyncSession, rule_id: UUID) -> None:
    await session.execute(
        update(Alert)
        .where(Alert.rule_id == rule_id, Alert.resolved_at.is_(None))
        .values(resolved_at=datetime.now(UTC), updated_at=datetime.now(UTC))
    )
