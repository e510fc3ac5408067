"""What the tutor publishes on the event bus (docs/events.md), for the live review feed and any other
subscriber. All published in the background: a tutoring turn never waits for the bus, and a Redis outage
never fails a turn.

Payloads carry ids, policy names and guardrail signal names only: never the learner's text, never
names or e-mail addresses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from uuid import UUID

import structlog

from app.domain.tutor.budgets import BudgetUnavailable, Reservation
from app.lib.event_payloads import BudgetAlert, GuardrailOutcome, TutorBlocked, TutorSessionStarted

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from app.domain.tutor.budgets import TokenBudget
    from app.domain.tutor.chat import ChatSession, TurnState
    from app.lib.events import EventBus

log = structlog.get_logger("lyceum.tutor.feed")
BUDGET_ALERT_RATIO = 0.8


def session_started(
    events: EventBus, org_id: UUID, session_id: UUID, user_id: UUID, course_id: UUID, item_id: UUID | None, mode: str
) -> None:
    event = TutorSessionStarted(session_id=session_id, user_id=user_id, course_id=course_id, item_id=item_id, mode=mode)
    events.publish_soon(org_id, event)


def blocked(events: EventBus, chat: ChatSession, state: TurnState, interaction_id: UUID) -> None:
    """A message or reply was blocked: by a guardrail (input or output) or by a token budget."""
    policy = state.error_code or "policy"
    blocking = next((o for o in reversed(state.outcomes) if o.action == "block"), None)
    stage: Literal["input", "output", "budget"]
    if policy == "budget":
        stage, reason = "budget", "token budget exhausted"
    else:
        stage = "output" if state.received_chars else "input"
        reason = blocking.detail if blocking is not None else ""  # which signals fired, not the text
    event = TutorBlocked(
        session_id=chat.id,
        interaction_id=interaction_id,
        user_id=chat.user_id,
        course_id=chat.course_id,
        item_id=chat.item_id,
        policy=policy,
        stage=stage,
        reason=reason,
        guardrails=[GuardrailOutcome(name=o.name, action=o.action) for o in state.outcomes],
    )
    events.publish_soon(chat.org_id, event)


def check_budgets(
    events: EventBus, budget: TokenBudget, markers: Redis, key_prefix: str, chat: ChatSession, reservation: Reservation
) -> None:
    """After a turn settled: alert once per scope and period when usage has crossed 80% of the limit
    (``markers``: the Redis client that remembers which alerts were sent, under ``key_prefix``)."""
    events.soon(_check_budgets(events, budget, markers, key_prefix, chat, reservation))


async def _check_budgets(
    events: EventBus, budget: TokenBudget, markers: Redis, key_prefix: str, chat: ChatSession, reservation: Reservation
) -> None:
    try:
        usage = await budget.usage(reservation.scopes)
    except BudgetUnavailable:
        return  # the next turn checks again
    now = datetime.now(UTC)
    for scope in reservation.scopes:
        used, _ = usage.get(scope.name, (0, 0))
        if scope.limit <= 0 or used < BUDGET_ALERT_RATIO * scope.limit:
            continue
        # One alert per scope and period: the marker lives as long as the period's counters.
        marker = f"{key_prefix}events:budget_alert:{scope.key}"
        try:
            first = await markers.set(marker, b"1", nx=True, ex=max(1, scope.ttl_seconds(now)))
        except Exception as exc:  # Redis trouble: skip the alert rather than risk repeating it
            log.warning("budget_alert_check_failed", error=str(exc))
            return
        if not first:
            continue
        await events.publish(
            chat.org_id,
            BudgetAlert(
                scope=scope.name,
                threshold=BUDGET_ALERT_RATIO,
                used_tokens=used,
                limit_tokens=scope.limit,
                period_ends_at=scope.resets_at.isoformat() if scope.resets_at else None,
                course_id=chat.course_id,
                user_id=chat.user_id,
                session_id=chat.id,
            ),
        )
