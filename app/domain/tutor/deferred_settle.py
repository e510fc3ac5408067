"""Settle a turn's budget reservation later, when Redis could not take it at the end of the turn.

A turn whose model call finished while Redis was down used to log ``budget_settle_failed`` and rely on the
hold's expiry: the held tokens came back after ``DEFAULT_HOLD_SECONDS``, but the tokens the learner really
used were never charged, so budgets read low after every Redis outage (the Redis chaos drill,
tests/chaos/test_redis_killed.py, found it). The settle is idempotent (``budget_settle.lua`` applies a
reservation once) and still charges within the settle grace, so retrying it in the background until Redis
answers again leaves the budgets as if Redis had never gone. A process that stops meanwhile loses only the
charge, as before: the hold still expires by itself.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from app.domain.tutor.budgets import DEFAULT_SETTLE_GRACE_SECONDS, BudgetUnavailable, Reservation, TokenBudget

log = structlog.get_logger("lyceum.tutor")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 15.0
# Past the grace a settle is a no-op (budgets.py), so there is no point in trying longer.
GIVE_UP_AFTER_SECONDS = DEFAULT_SETTLE_GRACE_SECONDS

# Strong references: the event loop keeps only weak ones to tasks, and a pending settle must not vanish.
_PENDING: set[asyncio.Task[None]] = set()


def settle_later(budget: TokenBudget, reservation: Reservation, used_tokens: int) -> asyncio.Task[None]:
    """Retry settling ``reservation`` with ``used_tokens`` (0: release) in the background until Redis answers."""
    task = asyncio.get_running_loop().create_task(_retry(budget, reservation, used_tokens))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)
    return task


def pending() -> int:
    """Deferred settles still waiting for Redis in this process."""
    return len(_PENDING)


async def _retry(budget: TokenBudget, reservation: Reservation, used_tokens: int) -> None:
    give_up = time.monotonic() + GIVE_UP_AFTER_SECONDS
    delay = FIRST_DELAY_SECONDS
    attempts = 0
    while time.monotonic() < give_up:
        await asyncio.sleep(delay)
        attempts += 1
        try:
            if used_tokens > 0:
                await budget.settle(reservation, used_tokens, 0)
            else:
                await budget.release(reservation)
        except BudgetUnavailable:
            delay = min(delay * 2, MAX_DELAY_SECONDS)
            continue
        log.info("budget_settle_recovered", reservation=reservation.id, attempts=attempts, tokens=used_tokens)
        return
    log.warning("budget_settle_abandoned", reservation=reservation.id, tokens=used_tokens)
