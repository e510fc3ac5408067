"""Tutor token budgets per org (month), course (month), user (day) and session, enforced per message.

Before a model call the turn *reserves* its input tokens plus the output it may produce, in every scope
at once (one Lua call, ``budget_reserve.lua``; refused if any scope lacks room), and the reply's
``max_tokens`` is capped by what remains. After the stream the reservation is *settled* with the real
usage, or *released* if nothing was produced (``budget_settle.lua``). Concurrent messages therefore never
spend more than a limit: each holds its worst case until it settles.

A process that dies between reserve and settle cannot leak budget: every hold carries an expiry (Redis
server clock) in a per-scope sorted set, and the next call touching the scope gives expired holds back.
Periods are UTC calendar months and days; each period has its own keys (the period is in the key), which
expire a day after the period ends, so a new period starts from zero without any reset job.

Redis failures surface as ``BudgetUnavailable``; whether a turn then proceeds is the caller's policy.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any, Literal
from uuid import UUID

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

__all__ = [
    "BudgetExhausted",
    "BudgetLimits",
    "BudgetScope",
    "BudgetUnavailable",
    "Reservation",
    "ScopeName",
    "TokenBudget",
    "budget_scopes",
]

ScopeName = Literal["org", "course", "user", "session"]

# A session has no period: its keys live this long after its last message.
SESSION_TTL_SECONDS = 30 * 24 * 3600
# Period keys outlive their period by a day, so a message reserved just before midnight still settles
# into the period it was reserved in (and support can still read yesterday's figures).
PERIOD_SLACK_SECONDS = 24 * 3600
# A hold outlives any real model call (streams are capped well below this); after it, the tokens return.
DEFAULT_HOLD_SECONDS = 600.0
# How long after its hold a reservation can still be settled (charged), and a repeated settle is still
# recognised as one. Past it a settle is a no-op: never charging twice beats charging a very late message.
DEFAULT_SETTLE_GRACE_SECONDS = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    org_monthly: int
    course_monthly: int
    user_daily: int
    session: int


@dataclass(frozen=True, slots=True)
class BudgetScope:
    name: ScopeName
    key: str  # without the prefix, e.g. "budget:org:<org_id>:2026-11"
    limit: int  # tokens
    resets_at: datetime | None  # end of the period (UTC); None for a session

    def ttl_seconds(self, now: datetime) -> int:
        """How long this scope's keys must live from ``now``: to the period's end plus slack."""
        if self.resets_at is None:
            return SESSION_TTL_SECONDS
        return max(0, int((self.resets_at - now).total_seconds())) + PERIOD_SLACK_SECONDS


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    scopes: tuple[BudgetScope, ...]
    reserved: int  # tokens held in every scope (input + max_tokens)
    max_tokens: int  # output tokens granted: <= requested, capped by what remains
    remaining: int  # tokens left in the tightest scope after this reservation


class BudgetExhausted(Exception):
    """A scope cannot fit the message (input + minimum output); nothing was reserved."""

    def __init__(self, scope: BudgetScope, remaining: int) -> None:
        super().__init__(f"{scope.name} token budget exhausted ({remaining} tokens left)")
        self.scope = scope  # the scope with the least room
        self.remaining = remaining  # tokens still available in it (never negative)
        self.resets_at = scope.resets_at  # when it starts over; None for a session


class BudgetUnavailable(Exception):
    """Redis could not be reached or did not answer in time; no decision was made."""


def budget_scopes(
    org_id: UUID | str,
    course_id: UUID | str,
    user_id: UUID | str,
    session_id: UUID | str,
    limits: BudgetLimits,
    now: datetime | None = None,
) -> list[BudgetScope]:
    """The four scopes of one tutoring message, broadest first, for the UTC period containing ``now``."""
    now = _utc(now or datetime.now(UTC))
    month, day = now.strftime("%Y-%m"), now.strftime("%Y-%m-%d")
    next_month = _next_month(now)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return [
        BudgetScope("org", f"budget:org:{org_id}:{month}", limits.org_monthly, next_month),
        BudgetScope("course", f"budget:course:{org_id}:{course_id}:{month}", limits.course_monthly, next_month),
        BudgetScope("user", f"budget:user:{user_id}:{day}", limits.user_daily, midnight),
        BudgetScope("session", f"budget:session:{session_id}", limits.session, None),
    ]


def _utc(moment: datetime) -> datetime:
    # A naive datetime is taken as UTC; an aware one is converted, so periods are always UTC periods.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _next_month(now: datetime) -> datetime:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


# Server-side conditions that mean "Redis can't decide right now", as opposed to a bug (the same mapping
# as app.lib.ratelimit).
_UNAVAILABLE_REPLIES = ("OOM", "BUSY", "READONLY", "MASTERDOWN", "LOADING", "TRYAGAIN", "CLUSTERDOWN")


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError | TimeoutError | OSError):
        return True
    return isinstance(exc, redis_errors.ResponseError) and str(exc).startswith(_UNAVAILABLE_REPLIES)


def _fields(reply: Any) -> list[int]:
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    return [int(field) for field in text.split()]


def _budget_script(name: str) -> str:
    """A budget script as Redis runs it: the code both scripts share (``budget_common.lua``: the clock,
    giving back expired holds, finding the tightest scope) in front of the script's own. One text, so
    still one atomic EVALSHA."""
    package = files("app.domain.tutor")
    return "\n".join(package.joinpath(f).read_text(encoding="utf-8") for f in ("budget_common.lua", name))


class TokenBudget:
    """Reserve / settle / release token budgets across scopes; one round trip per decision.

    Give it a ``create_redis(url, role="limiter")`` client: a retried EVALSHA could reserve twice, and a
    hung Redis must fail fast rather than stall the turn.
    """

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        settle_grace_seconds: float = DEFAULT_SETTLE_GRACE_SECONDS,
    ) -> None:
        if hold_seconds <= 0:
            raise ValueError(f"hold_seconds must be positive, got {hold_seconds}")
        if settle_grace_seconds < 0:
            raise ValueError(f"settle_grace_seconds must not be negative, got {settle_grace_seconds}")
        self._redis = redis
        self._prefix = prefix
        self._hold_ms = max(1, round(hold_seconds * 1000))
        self._record_ms = self._hold_ms + round(settle_grace_seconds * 1000)
        self._reserve = redis.register_script(_budget_script("budget_reserve.lua"))
        self._settle = redis.register_script(_budget_script("budget_settle.lua"))

    async def reserve(
        self,
        scopes: Sequence[BudgetScope],
        input_tokens: int,
        max_output_tokens: int,
        min_output_tokens: int = 64,
    ) -> Reservation:
        """Hold ``input_tokens`` + granted output in every scope, or raise ``BudgetExhausted`` and hold nothing.

        The grant is ``min(max_output_tokens, least available - input_tokens)``; a scope that cannot fit
        ``input_tokens + min_output_tokens`` (capped at ``max_output_tokens``) refuses the message.
        """
        if input_tokens < 0:
            raise ValueError(f"input_tokens must not be negative, got {input_tokens}")
        if max_output_tokens < 1:
            raise ValueError(f"max_output_tokens must be at least 1, got {max_output_tokens}")
        if min_output_tokens < 0:
            raise ValueError(f"min_output_tokens must not be negative, got {min_output_tokens}")
        scopes = tuple(scopes)
        reservation_id = uuid.uuid4().hex
        keys = self._keys(scopes, reservation_id)
        now = datetime.now(UTC)
        args: list[int | str] = [
            len(scopes),
            reservation_id,
            self._hold_ms,
            self._record_ms,
            input_tokens,
            max_output_tokens,
            min(min_output_tokens, max_output_tokens),
            *(s.limit for s in scopes),
            *(s.ttl_seconds(now) for s in scopes),
        ]
        fields = _fields(await self._call(self._reserve, keys, args))
        tightest = scopes[fields[1] - 1]
        if fields[0] == 0:
            raise BudgetExhausted(tightest, max(0, fields[2]))
        return Reservation(
            id=reservation_id,
            scopes=scopes,
            reserved=fields[4],
            max_tokens=fields[3],
            remaining=max(0, fields[2]),
        )

    async def settle(self, reservation: Reservation, input_tokens: int, output_tokens: int) -> int:
        """Drop the hold and charge the real usage, once; returns the tokens left in the tightest scope.

        Usage is charged as reported, even above the hold (the tokens were spent); settling again, or
        after ``release``, changes nothing.
        """
        return await self._finish(reservation, max(0, input_tokens) + max(0, output_tokens))

    async def release(self, reservation: Reservation) -> None:
        """Drop the hold without charging anything (the call failed before producing tokens); idempotent."""
        await self._finish(reservation, 0)

    async def usage(self, scopes: Sequence[BudgetScope]) -> dict[str, tuple[int, int]]:
        """Scope name -> (used, reserved) tokens; holds past their expiry are not counted as reserved.

        Read-only: one pipelined round trip (server TIME, then each scope's counters and holds).
        """
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.time()
                for scope in scopes:
                    pipe.hmget(self._prefix + scope.key, "used", "reserved")
                    pipe.zrange(self._prefix + scope.key + ":holds", 0, -1, withscores=True)
                replies = await pipe.execute()
        except Exception as exc:
            if _unavailable(exc):
                raise BudgetUnavailable(f"token budget: redis unavailable: {exc}") from exc
            raise
        seconds, micros = replies[0]
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        result: dict[str, tuple[int, int]] = {}
        for index, scope in enumerate(scopes):
            (used, reserved), holds = replies[1 + 2 * index], replies[2 + 2 * index]
            # The scripts give expired holds back lazily; report what the next reserve would see.
            expired = sum(int(_text(member).rsplit(":", 1)[1]) for member, expiry in holds if expiry <= now_ms)
            result[scope.name] = (int(used or 0), max(0, int(reserved or 0) - expired))
        return result

    async def _finish(self, reservation: Reservation, actual: int) -> int:
        scopes = reservation.scopes
        now = datetime.now(UTC)
        args: list[int | str] = [
            len(scopes),
            reservation.id,
            actual,
            *(s.limit for s in scopes),
            *(s.ttl_seconds(now) for s in scopes),
        ]
        fields = _fields(await self._call(self._settle, self._keys(scopes, reservation.id), args))
        return max(0, fields[2])

    def _keys(self, scopes: tuple[BudgetScope, ...], reservation_id: str) -> list[str]:
        if not scopes:
            raise ValueError("at least one budget scope is required")
        counters = [self._prefix + s.key for s in scopes]
        if len(set(counters)) != len(counters):
            # The same key twice would hold (and charge) the message twice in one scope.
            raise ValueError(f"duplicate budget scope keys: {counters}")
        holds = [key + ":holds" for key in counters]
        return [*counters, *holds, f"{self._prefix}budget:reservation:{reservation_id}"]

    async def _call(self, script: AsyncScript, keys: list[str], args: list[int | str]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except Exception as exc:
            if _unavailable(exc):
                raise BudgetUnavailable(f"token budget: redis unavailable: {exc}") from exc
            raise


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
