"""Tutor token budgets per org (month), course (month), user (day) and session, enforced per message.

Before a model call the turn *reserves* its input tokens plus the output it may produce in every scope
at once (one Lua call; refused if any scope lacks room), and the reply's ``max_tokens`` is capped by
what remains. After the stream the reservation is *settled* with the real usage (or released). So
concurrent messages can never spend more than the limit: each holds its worst case until it settles.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Literal
from uuid import UUID

from redis import exceptions as redis_errors
from redis.asyncio import Redis

ScopeName = Literal["org", "course", "user", "session"]
SESSION_TTL_SECONDS = 30 * 24 * 3600
_SCRIPT = files("app.domain.tutor").joinpath("budget.lua").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    org_monthly: int
    course_monthly: int
    user_daily: int
    session: int


@dataclass(frozen=True, slots=True)
class BudgetScope:
    name: ScopeName
    key: str  # without the prefix
    limit: int
    resets_at: datetime | None  # end of the period (UTC); None for a session

    def ttl_seconds(self, now: datetime) -> int:
        if self.resets_at is None:
            return SESSION_TTL_SECONDS
        return max(60, int((self.resets_at - now).total_seconds()) + 3600)  # an hour of slack after the period


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    scopes: tuple[BudgetScope, ...]
    reserved: int  # tokens held in every scope
    max_tokens: int  # output tokens granted
    remaining: int  # tokens left in the tightest scope after this reservation


class BudgetExhausted(Exception):
    def __init__(self, scope: BudgetScope, remaining: int) -> None:
        super().__init__(f"{scope.name} token budget exhausted")
        self.scope = scope
        self.remaining = remaining
        self.resets_at = scope.resets_at


class BudgetUnavailable(Exception):
    """Redis could not be reached: no decision was made."""


def _next_month(now: datetime) -> datetime:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


def budget_scopes(
    org_id: UUID, course_id: UUID, user_id: UUID, session_id: UUID, limits: BudgetLimits, now: datetime | None = None
) -> list[BudgetScope]:
    now = now or datetime.now(UTC)
    month, day = now.strftime("%Y-%m"), now.strftime("%Y-%m-%d")
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return [
        BudgetScope("org", f"budget:org:{org_id}:{month}", limits.org_monthly, _next_month(now)),
        BudgetScope("course", f"budget:course:{org_id}:{course_id}:{month}", limits.course_monthly, _next_month(now)),
        BudgetScope("user", f"budget:user:{user_id}:{day}", limits.user_daily, midnight),
        BudgetScope("session", f"budget:session:{session_id}", limits.session, None),
    ]


class TokenBudget:
    def __init__(self, redis: Redis, prefix: str, hold_seconds: float = 600.0) -> None:
        self._redis = redis
        self._prefix = prefix
        self._hold_ms = int(hold_seconds * 1000)
        self._script = redis.register_script(_SCRIPT)

    def _keys(self, scopes: tuple[BudgetScope, ...] | list[BudgetScope]) -> list[str]:
        return [self._prefix + s.key for s in scopes] + [self._prefix + s.key + ":holds" for s in scopes]

    async def _call(self, keys: list[str], args: list[str | int]) -> str:
        try:
            reply = await self._script(keys=keys, args=args)
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            raise BudgetUnavailable(str(exc)) from exc
        return reply.decode() if isinstance(reply, bytes) else str(reply)

    async def reserve(
        self, scopes: list[BudgetScope], input_tokens: int, max_output_tokens: int, min_output_tokens: int = 64
    ) -> Reservation:
        now = datetime.now(UTC)
        reservation_id = uuid.uuid4().hex
        args: list[str | int] = [
            "reserve",
            len(scopes),
            reservation_id,
            self._hold_ms,
            input_tokens,
            max_output_tokens,
            min(min_output_tokens, max_output_tokens),
        ]
        args += [s.limit for s in scopes] + [s.ttl_seconds(now) for s in scopes]
        fields = (await self._call(self._keys(scopes), args)).split()
        tight = scopes[int(fields[1]) - 1]
        if fields[0] == "0":
            raise BudgetExhausted(tight, max(0, int(fields[2])))
        return Reservation(
            id=reservation_id,
            scopes=tuple(scopes),
            reserved=int(fields[4]),
            max_tokens=int(fields[3]),
            remaining=int(fields[2]),
        )

    async def settle(self, reservation: Reservation, input_tokens: int, output_tokens: int) -> int:
        """Release the hold and charge the real usage; settling twice charges once. Returns what remains."""
        return await self._settle(reservation, max(0, input_tokens + output_tokens))

    async def release(self, reservation: Reservation) -> None:
        await self._settle(reservation, 0)

    async def _settle(self, reservation: Reservation, actual: int) -> int:
        keys = [*self._keys(reservation.scopes), f"{self._prefix}budget:settled:{reservation.id}"]
        args: list[str | int] = ["settle", len(reservation.scopes), reservation.id, reservation.reserved, actual]
        args += [s.limit for s in reservation.scopes]
        fields = (await self._call(keys, args)).split()
        return max(0, int(fields[1]))

    async def usage(self, scopes: list[BudgetScope]) -> dict[str, tuple[int, int]]:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for scope in scopes:
                    pipe.hmget(self._prefix + scope.key, "used", "reserved")
                rows = await pipe.execute()
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            raise BudgetUnavailable(str(exc)) from exc
        return {s.name: (int(r[0] or 0), int(r[1] or 0)) for s, r in zip(scopes, rows, strict=True)}
