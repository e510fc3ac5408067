"""The worker's alert evaluation (cron ``alerts_evaluate``): per org with enabled rules, measure each rule
over its window, fire an alert when it crosses its threshold (once: the partial unique index keeps one open
alert per rule, so two workers evaluating at once fire it once), resolve it when the metric is back. A fired
alert is announced on the live feed (``alert.fired``) after its transaction commits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from uuid import UUID

import structlog
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert

from app.db.engine import Database
from app.db.models import Alert, AlertRule
from app.domain.alerts.metrics import breaches, measure
from app.domain.alerts.schemas import AlertKind
from app.lib.event_payloads import AlertFired
from app.lib.events import EventBus

log = structlog.get_logger("lyceum.alerts")


async def orgs_with_rules(db: Database) -> list[UUID]:
    async with db.transaction(None) as session:
        return list(await session.scalars(text("select org_id from lyceum_alert_rule_orgs()")))


async def evaluate_org(db: Database, org_id: UUID, now: datetime | None = None) -> list[AlertFired]:
    """Evaluate every enabled rule of one org; returns the alerts fired (not yet announced)."""
    now = now or datetime.now(UTC)
    fired: list[AlertFired] = []
    async with db.transaction(org_id) as session:
        rules = list(await session.scalars(select(AlertRule).where(AlertRule.enabled.is_(True))))
        open_rules = set(
            await session.scalars(select(Alert.rule_id).where(Alert.resolved_at.is_(None), Alert.rule_id.is_not(None)))
        )
        for rule in rules:
            kind = cast(AlertKind, rule.kind)
            value = await measure(session, kind, rule.window_minutes, now)
            if breaches(kind, value, rule.threshold):
                if rule.id in open_rules or value is None:
                    continue
                alert_id = await session.scalar(
                    insert(Alert)
                    .values(
                        org_id=org_id,
                        rule_id=rule.id,
                        kind=kind,
                        value=value,
                        threshold=rule.threshold,
                        window_minutes=rule.window_minutes,
                        fired_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["rule_id"], index_where=text("resolved_at is null"))
                    .returning(Alert.id)
                )
                if alert_id is not None:
                    fired.append(
                        AlertFired(
                            alert_id=alert_id,
                            rule_id=rule.id,
                            kind=kind,
                            value=round(value, 4),
                            threshold=rule.threshold,
                            window_minutes=rule.window_minutes,
                        )
                    )
            elif rule.id in open_rules and value is not None:
                await session.execute(
                    update(Alert)
                    .where(Alert.rule_id == rule.id, Alert.resolved_at.is_(None))
                    .values(resolved_at=now, updated_at=now)
                )
    return fired


async def evaluate_all(db: Database, events: EventBus) -> dict[str, int]:
    """Every org with an enabled rule; an org whose evaluation fails is logged and the others go on."""
    fired = failed = 0
    for org_id in await orgs_with_rules(db):
        try:
            alerts = await evaluate_org(db, org_id)
        except Exception as exc:
            failed += 1
            log.warning("alerts_evaluation_failed", org_id=str(org_id), error=repr(exc))
            continue
        for alert in alerts:
            await events.publish(org_id, alert)
            log.info("alert_fired", org_id=str(org_id), kind=alert.kind, value=alert.value)
        fired += len(alerts)
    return {"fired": fired, "failed_orgs": failed}
