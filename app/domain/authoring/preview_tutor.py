"""The preview's tutor: one turn answered from a DRAFT's material, as the published course's tutor would.

It runs the learner turn's steps with the tutor's own pieces (``tutor/turns.py`` drives the same ones for
a session): the message checks (``validate_message``, ``check_message`` then ``check_conversation`` with
the earlier questions), the model-based input check when a model key is set, the org's prompt version
rendered by ``render_system``, the same provider (the offline tutor, labelled so, without a key), the
output filter over every streamed piece, and the token budget's reserve and settle. What differs:

- the material is the draft's (``context_from_spec``), never a live row, and there is no grounding (the
  search index holds published courses only);
- there is no ``ai_sessions`` row, enrolment or stored conversation: the browser keeps the last turns and
  sends them back (``history``);
- tokens are charged to the org's monthly scope and the instructor's daily scope only (no course or
  session exists yet), and the turn is recorded in ``ai_interactions`` with purpose ``preview`` (no
  session, course or item: the draft has no live rows), so spend and the AI usage dashboards count it
  while the learner-only views (which filter purpose ``tutor``) do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import msgspec
import structlog
from litestar.response import ServerSentEventMessage
from sqlalchemy import Table, insert

from app.config import Settings
from app.db.engine import TenantDatabase
from app.db.models import AIInteraction
from app.domain.authoring.schemas import PreviewTurn
from app.domain.tutor.budgets import BudgetExhausted, BudgetLimits, BudgetUnavailable, Reservation, budget_scopes
from app.domain.tutor.components import TutorComponents
from app.domain.tutor.deferred_settle import settle_later
from app.domain.tutor.event_stream import collect_events, sse_events
from app.domain.tutor.guardrails.confidence import confidence_score
from app.domain.tutor.guardrails.model_check import CheckResult
from app.domain.tutor.guardrails.output_filter import OutputFilter
from app.domain.tutor.guardrails.pipeline import (
    SAFETY_PREAMBLE,
    GuardrailOutcome,
    check_conversation,
    check_message,
    kind_of,
    refusal,
)
from app.domain.tutor.history import Turn, build_history
from app.domain.tutor.prompts import ChosenPrompt, render_system
from app.domain.tutor.providers.base import (
    ChatMessage,
    ModelRequest,
    ProviderError,
    StreamEnd,
    StreamStart,
    TextDelta,
    TutorContext,
)
from app.domain.tutor.providers.tokens import estimate_request_tokens
from app.domain.tutor.schemas import BlockedEvent, Budget, DeltaEvent, DoneEvent, ErrorEvent, TutorEvent, Usage
from app.lib.errors import RETRY_AFTER_SECONDS, RateLimited
from app.lib.problems import is_dependency_unavailable
from app.lib.ratelimit import TokenBucketLimiter, bucket
from app.lib.throttle import enforce

log = structlog.get_logger("lyceum.authoring.preview_tutor")
Emit = Callable[[TutorEvent], Awaitable[None]]
PURPOSE = "preview"
PROMPT_NAME = "tutor"  # the learners' prompt: the preview shows what they would get
PREVIEW_SCOPES = frozenset({"org", "user"})
_ROW: Table = AIInteraction.__table__  # type: ignore[assignment]
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class PreviewMaterial:
    """What one preview turn needs from the database, read in one transaction before the stream starts."""

    org_id: UUID
    org_slug: str
    user_id: UUID
    draft_id: UUID
    item_slug: str
    context: TutorContext
    limits: BudgetLimits
    chosen: ChosenPrompt


@dataclass
class _State:
    message_id: str
    user_text: str = ""
    released: list[str] = field(default_factory=list)
    received_chars: int = 0
    outcomes: list[GuardrailOutcome] = field(default_factory=list)
    model: str = ""
    input_tokens: int = 0
    output_tokens: int | None = None
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    status: str = "completed"
    error_code: str = ""
    reservation: Reservation | None = None
    check: asyncio.Task[CheckResult] | None = None
    check_deadline: float = 0.0
    finished: bool = False

    @property
    def reply(self) -> str:
        return "".join(self.released)

    def used_output_tokens(self) -> int:
        return self.output_tokens if self.output_tokens is not None else -(-self.received_chars // 4)


@dataclass(eq=False, repr=False, kw_only=True, slots=True)
class PreviewTutor:
    """The clients a preview turn uses (built per request by ``deps.py``): the caller's tenant database,
    settings, the tutor's process-wide parts (provider, policies, prompts, budget, object store) and the
    rate limiter."""

    db: TenantDatabase
    settings: Settings
    tutor: TutorComponents
    limiter: TokenBucketLimiter

    def turn(self, material: PreviewMaterial, history: list[PreviewTurn]) -> PreviewTutorTurn:
        return PreviewTutorTurn(
            material, history, db=self.db, settings=self.settings, tutor=self.tutor, limiter=self.limiter
        )


@dataclass(eq=False, repr=False, slots=True)
class PreviewTutorTurn:
    """One preview turn; ``run`` emits the learner tutor's events (delta..., then done, blocked or error)."""

    material: PreviewMaterial
    history: list[PreviewTurn]
    _: KW_ONLY
    db: TenantDatabase  # the instructor's tenant: the material's org and user
    settings: Settings
    tutor: TutorComponents
    limiter: TokenBucketLimiter

    async def run(self, message_id: str, text: str, emit: Emit) -> None:
        state = _State(message_id=message_id)
        try:
            await self._run(state, text, emit)
        except asyncio.CancelledError:
            if not state.finished:  # the browser went away: give the hold back (or charge), record it
                state.status = "cancelled"
                await asyncio.shield(self._finish(state, emit))
            raise
        except Exception as exc:
            if not is_dependency_unavailable(exc):
                raise
            log.warning("preview_tutor_unavailable", error_type=type(exc).__name__)
            await emit(
                ErrorEvent(
                    code="unavailable",
                    detail="Lyceum is busy right now; try again shortly.",
                    message_id=message_id,
                    retry_after=float(RETRY_AFTER_SECONDS),
                )
            )
        finally:
            if state.check is not None:
                state.check.cancel()

    async def _run(self, state: _State, text: str, emit: Emit) -> None:
        material = self.material
        limited = await self._rate_limit()
        if limited is not None:
            retry = float(limited.extra.get("retry_after", 1.0))
            await emit(
                ErrorEvent(code="rate_limited", detail=limited.detail, message_id=state.message_id, retry_after=retry)
            )
            return
        policy = self.tutor.policies.get(material.org_slug)
        recent = [turn.user for turn in self.history]
        verdict = check_message(text, policy, material.context)
        verdict = check_conversation(verdict, text, recent, policy, material.context)
        state.user_text = verdict.text
        state.outcomes.extend(verdict.outcomes)
        if not verdict.allowed:
            state.status, state.error_code = "blocked", verdict.policy or "policy"
            interaction_id = await asyncio.shield(self._record(state))
            await emit(
                BlockedEvent(
                    policy=verdict.policy or "policy",
                    reason=verdict.reason or "",
                    message_id=state.message_id,
                    interaction_id=interaction_id,
                )
            )
            return
        self._start_check(state, policy, recent)
        request = self._request(state)
        state.input_tokens = estimate_request_tokens(request)
        scopes = [
            scope
            for scope in budget_scopes(material.org_id, "", material.user_id, "", material.limits)
            if scope.name in PREVIEW_SCOPES
        ]
        try:
            state.reservation = await self.tutor.budget.reserve(
                scopes, state.input_tokens, self.settings.tutor_max_output_tokens
            )
        except BudgetExhausted as exc:
            state.status, state.error_code = "blocked", "budget"
            interaction_id = await asyncio.shield(self._record(state))
            await emit(
                BlockedEvent(
                    policy="budget",
                    reason=policy.messages.budget,
                    message_id=state.message_id,
                    resets_at=exc.resets_at,
                    interaction_id=interaction_id,
                )
            )
            return
        except BudgetUnavailable:
            await emit(
                ErrorEvent(
                    code="unavailable",
                    detail="Token budgets cannot be checked right now; try again shortly.",
                    message_id=state.message_id,
                    retry_after=5.0,
                )
            )
            return
        request = ModelRequest(
            system=request.system,
            messages=request.messages,
            max_tokens=state.reservation.max_tokens,
            model=request.model,
            context=request.context,
        )
        await self._stream(state, request, policy, emit)
        await asyncio.shield(self._finish(state, emit))

    async def _rate_limit(self) -> RateLimited | None:
        """The learner tutor's buckets: an instructor's preview questions and tutor messages share theirs."""
        s, m = self.settings, self.material
        buckets = [
            bucket("user", f"rl:tutor:user:{m.user_id}", s.rate_limit_tutor_user),
            bucket("org", f"rl:tutor:org:{m.org_id}", s.rate_limit_api_org),
            bucket("global", "rl:tutor:global", s.rate_limit_api_global),
        ]
        try:
            await enforce(s, self.limiter, "tutor", buckets, fail_open=True)
        except RateLimited as exc:
            return exc
        return None

    def _start_check(self, state: _State, policy: Any, recent: list[str]) -> None:
        guard = self.tutor.guard
        settings = policy.input.model_check
        if guard is None or not settings.enabled:
            return
        history = recent[-policy.input.classifier.history_turns :] if policy.input.classifier.history_turns else []
        state.check = asyncio.ensure_future(guard.check(state.user_text, history))
        state.check_deadline = time.monotonic() + settings.max_wait_ms / 1000

    async def _await_check(self, state: _State, policy: Any, emit: Emit) -> bool:
        """Hold the first text until the model-based check answered (bounded); True when it blocked."""
        task, state.check = state.check, None
        assert task is not None
        result: CheckResult | None
        try:
            result = await asyncio.wait_for(asyncio.shield(task), max(0.0, state.check_deadline - time.monotonic()))
        except TimeoutError:
            task.cancel()
            result = None
        settings = policy.input.model_check
        if result is not None and result.ok and not result.flagged:
            return False
        if result is not None and result.ok:
            outcome = GuardrailOutcome("model_check", "block", 1.0, result.category)
            name, reason = refusal(policy, kind_of(result.category))
        else:
            detail = result.detail if result is not None else f"no verdict within {settings.max_wait_ms} ms"
            if settings.on_timeout == "allow":
                state.outcomes.append(GuardrailOutcome("model_check", "flag", 0.0, detail))
                return False
            outcome = GuardrailOutcome("model_check", "block", 0.0, detail)
            name, reason = refusal(policy, "injection")
        state.outcomes.append(outcome)
        state.status, state.error_code = "blocked", name
        await emit(BlockedEvent(policy=name, reason=reason, message_id=state.message_id))
        return True

    def _request(self, state: _State) -> ModelRequest:
        context = self.material.context
        turns = [Turn(user=t.user, reply=t.reply) for t in self.history]
        history = build_history(turns, self.settings.tutor_history_token_budget)
        return ModelRequest(
            system=render_system(self.material.chosen, context, SAFETY_PREAMBLE, ()),
            messages=(*history, ChatMessage("user", state.user_text)),
            max_tokens=self.settings.tutor_max_output_tokens,
            model=self.settings.tutor_model,
            context=context,
        )

    async def _stream(self, state: _State, request: ModelRequest, policy: Any, emit: Emit) -> None:
        output = OutputFilter(policy, self.material.context, visible=(state.user_text,))
        try:
            async with contextlib.aclosing(self.tutor.provider.stream(request)) as events:
                async for event in events:
                    if isinstance(event, StreamStart):
                        state.model, state.input_tokens = event.model, event.input_tokens or state.input_tokens
                    elif isinstance(event, TextDelta):
                        state.first_token_at = state.first_token_at or time.monotonic()
                        state.received_chars += len(event.text)
                        text = event.text.replace("\x00", "")  # model output is untrusted; NUL cannot be stored
                        if text and await self._pass(state, output.feed(text), policy, emit):
                            return
                    elif isinstance(event, StreamEnd):
                        state.input_tokens, state.output_tokens = event.input_tokens, event.output_tokens
            await self._pass(state, output.finish(), policy, emit)
        except ProviderError as exc:
            state.status, state.error_code = "error", exc.code
            if exc.output_tokens:
                state.output_tokens = exc.output_tokens
            await emit(
                ErrorEvent(code=exc.code, detail=exc.detail, message_id=state.message_id, retry_after=exc.retry_after)
            )

    async def _pass(self, state: _State, step: Any, policy: Any, emit: Emit) -> bool:
        """Send what the output filter released; True when it (or the model-based check) stopped the reply."""
        if step.release and state.check is not None and await self._await_check(state, policy, emit):
            return True
        if step.release:
            state.released.append(step.release)
            await emit(DeltaEvent(text=step.release, message_id=state.message_id))
        if step.blocked is None:
            return False
        state.outcomes.append(step.blocked)
        state.status, state.error_code = "blocked", step.blocked.name
        reason = str(getattr(policy.messages, step.blocked.name, "") or "")
        await emit(
            BlockedEvent(
                policy=step.blocked.name,
                reason=reason or "This reply was stopped by the course's safety policy.",
                message_id=state.message_id,
            )
        )
        return True

    async def _finish(self, state: _State, emit: Emit) -> None:
        state.finished = True
        remaining = await self._settle(state)
        interaction_id = await self._record(state)
        if state.status in ("completed", "cancelled"):
            await emit(
                DoneEvent(
                    interaction_id=interaction_id,
                    usage=Usage(input_tokens=state.input_tokens, output_tokens=state.used_output_tokens()),
                    confidence=self._confidence(state),
                    guardrails=[_outcome(o) for o in state.outcomes],
                    budget=Budget(remaining_tokens=remaining),
                    message_id=state.message_id,
                    provider=self.tutor.provider.name,
                    provider_label=self.tutor.provider.label,
                    model=state.model,
                    prompt_version=self.material.chosen.version,
                    status=state.status,
                )
            )

    async def _settle(self, state: _State) -> int:
        reservation = state.reservation
        if reservation is None:
            return 0
        released = state.received_chars == 0 and state.status == "error"
        used = 0 if released else max(0, state.input_tokens) + max(0, state.used_output_tokens())
        try:
            if released:
                await self.tutor.budget.release(reservation)
                return reservation.remaining + reservation.reserved
            return await self.tutor.budget.settle(reservation, state.input_tokens, state.used_output_tokens())
        except BudgetUnavailable:
            # Redis is down: charge the real usage once it is back (the hold alone would only expire).
            log.warning("budget_settle_failed", reservation=reservation.id, deferred=True)
            settle_later(self.tutor.budget, reservation, used)
            return reservation.remaining

    def _confidence(self, state: _State) -> float:
        return round(confidence_score(state.reply, self.material.context, state.outcomes), 3)

    async def _record(self, state: _State) -> UUID:
        """The turn's ``ai_interactions`` row (purpose ``preview``; no session, course or item) and its text
        in the object store, for spend, the usage dashboards and the audit of what the model was asked."""
        state.finished = True
        material = self.material
        content = {
            "user": state.user_text,
            "reply": state.reply,
            "draft_id": str(material.draft_id),
            "item_slug": material.item_slug,
        }
        stored = await self.tutor.objects.put(msgspec.json.encode(content), namespace=f"tutor/{material.org_id}")
        output_tokens = state.used_output_tokens()
        price_in, price_out = self.settings.model_price(state.model or self.settings.tutor_model)
        interaction_id = uuid4()
        row = dict(
            id=interaction_id,
            org_id=material.org_id,
            session_id=None,
            user_id=material.user_id,
            course_id=None,
            item_id=None,
            client_message_id=None,
            purpose=PURPOSE,
            content_hash=stored.content_hash,
            object_key=stored.key,
            provider=self.tutor.provider.name,
            model=state.model or self.tutor.provider.name,
            prompt_name=PROMPT_NAME,
            prompt_version=material.chosen.version,
            input_tokens=state.input_tokens,
            output_tokens=output_tokens,
            cost_usd=Decimal(str(round((state.input_tokens * price_in + output_tokens * price_out) / 1e6, 6))),
            latency_first_token_ms=int((state.first_token_at - state.started) * 1000) if state.first_token_at else None,
            latency_total_ms=int((time.monotonic() - state.started) * 1000),
            confidence=self._confidence(state) if state.reply else None,
            status=state.status,
            error_code=state.error_code,
            guardrail_outcomes=[_outcome(o) for o in state.outcomes],
            mode=material.context.mode,
            sources=[],
        )
        async with self.db.transaction() as session:
            await session.execute(insert(_ROW).values(row))
        return interaction_id


def _outcome(outcome: GuardrailOutcome) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "action": outcome.action,
        "score": round(float(outcome.score), 3),
        "detail": outcome.detail,
    }


async def collect(turn: PreviewTutorTurn, message_id: str, text: str) -> dict[str, Any]:
    """Every event of the turn and the whole reply, as the learner tutor answers without SSE."""
    return await collect_events(lambda emit: turn.run(message_id, text, emit))


def stream(
    turn: PreviewTutorTurn, message_id: str, text: str, queue_size: int
) -> AsyncIterator[ServerSentEventMessage]:
    """The turn's events as server-sent events named like the learner tutor's (``event: delta`` ... then
    ``done``, ``blocked`` or ``error``), with pings while idle. The browser closing the request cancels the
    turn (its budget hold is settled and it is recorded)."""
    return sse_events(lambda emit: turn.run(message_id, text, emit), queue_size)


__all__ = ["PURPOSE", "PreviewMaterial", "PreviewTutor", "PreviewTutorTurn", "collect", "stream"]
