"""One tutoring turn, transport-agnostic: guardrails in, budget reserve, stream through the output filter,
settle, record. WebSocket and SSE both drive this and only differ in how they deliver events."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field, replace
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import msgspec
import structlog
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis
from sqlalchemy import Table, insert, or_, select

from app.config import Settings
from app.db.engine import Database
from app.db.models import AIInteraction
from app.domain.tutor import bus_events
from app.domain.tutor.budgets import BudgetExhausted, BudgetUnavailable, budget_scopes
from app.domain.tutor.chat import ChatSession, TurnState
from app.domain.tutor.chat_cache import cached
from app.domain.tutor.components import TutorComponents
from app.domain.tutor.deferred_settle import settle_later
from app.domain.tutor.experiment_assignment import Assignment, assign, running_experiments
from app.domain.tutor.grounding import Grounding, Retriever, stored_sources
from app.domain.tutor.guardrails.confidence import confidence_score
from app.domain.tutor.guardrails.model_check import CheckResult
from app.domain.tutor.guardrails.output_filter import OutputFilter
from app.domain.tutor.guardrails.pipeline import (
    SAFETY_PREAMBLE,
    GuardrailOutcome,
    InputVerdict,
    check_conversation,
    check_message,
    kind_of,
    refusal,
)
from app.domain.tutor.history import Turn, build_history
from app.domain.tutor.metrics import observe_turn, observe_unavailable
from app.domain.tutor.prompts import ChosenPrompt, render_system
from app.domain.tutor.providers.base import (
    ChatMessage,
    ModelRequest,
    ProviderError,
    StreamEnd,
    StreamStart,
    TextDelta,
)
from app.domain.tutor.providers.tokens import estimate_request_tokens
from app.domain.tutor.schemas import BlockedEvent, Budget, DeltaEvent, DoneEvent, ErrorEvent, TutorEvent, Usage
from app.lib import tracing
from app.lib.errors import RETRY_AFTER_SECONDS, RateLimited
from app.lib.events import EventBus
from app.lib.problems import is_dependency_unavailable
from app.lib.ratelimit import TokenBucketLimiter, bucket
from app.lib.throttle import enforce

log = structlog.get_logger("lyceum.tutor")
Emit = Callable[[TutorEvent], Awaitable[None]]
PROMPT_NAME = "tutor"
_HISTORY_STATUSES = ("completed", "cancelled")
_ROW: Table = AIInteraction.__table__  # type: ignore[assignment]  # Core statements on the hot path: no ORM objects to build per row
# Decoded turn contents by object key (content-addressed, so never stale), for the history of the next
# turns of a session: bounded, least recently used first out.
CONTENT_CACHE_SIZE = 2048
_CONTENT_CACHE: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _remember_content(key: str, content: dict[str, Any]) -> None:
    _CONTENT_CACHE[key] = content
    _CONTENT_CACHE.move_to_end(key)
    while len(_CONTENT_CACHE) > CONTENT_CACHE_SIZE:
        _CONTENT_CACHE.popitem(last=False)


@dataclass(frozen=True, slots=True)
class _Setup:
    """What the turn's database lookup found: an earlier answer to replay, or the prompt and history."""

    replay: AIInteraction | None = None
    chosen: ChosenPrompt | None = None
    turns: list[Turn] = field(default_factory=list)
    assignment: Assignment | None = None  # the arm of the running experiment covering the learner, if any


def validate_message(text: Any, max_chars: int) -> str | None:
    """A learner-facing reason the message cannot be sent, or None when it is fine."""
    if not isinstance(text, str):
        return "The message must be text."
    if not text.strip():
        return "The message is empty."
    if len(text) > max_chars:
        return f"The message is too long ({len(text)} characters; the limit is {max_chars})."
    if "\x00" in text or sum(ch < " " and ch not in "\n\r\t" for ch in text) > 0:
        return "The message contains binary data; send plain text."
    return None


@dataclass(eq=False, repr=False, slots=True)
class TurnRunner:
    """Runs the turns of one conversation (``chat``). ``tutor``: the model provider, guardrail policies,
    prompts, token budget and object store; ``limiter``: the per-learner rate limit; ``events``: what the
    turn announces, with ``markers`` (the fail-fast Redis client) remembering which budget alerts were sent."""

    chat: ChatSession
    _: KW_ONLY
    db: Database
    settings: Settings
    tutor: TutorComponents
    limiter: TokenBucketLimiter
    events: EventBus
    markers: Redis
    retriever: Retriever | None = None  # grounding in the course; None: the turn has no sources

    def for_chat(self, chat: ChatSession) -> TurnRunner:
        """A runner with the same clients for another view of the conversation (a message's own mode)."""
        return replace(self, chat=chat)

    async def run(self, message_id: str, text: Any, emit: Emit) -> None:
        state = TurnState(message_id=message_id)
        # One span per turn (OpenTelemetry, docs/observability.md): ids and outcome, never the learner's text.
        with tracing.span(
            "tutor.turn",
            attributes={
                "lyceum.tutor.conversation_id": str(self.chat.id),
                "lyceum.tutor.message_id": message_id,
                "lyceum.org_id": str(self.chat.org_id),
                "lyceum.course_id": str(self.chat.course_id),
            },
        ) as turn_span:
            try:
                await self._run_traced(state, text, emit)
            finally:
                turn_span.set_attribute("lyceum.tutor.status", state.status)
                if state.error_code:
                    turn_span.set_attribute("error.type", state.error_code)

    async def _run_traced(self, state: TurnState, text: Any, emit: Emit) -> None:
        message_id = state.message_id
        try:
            await self._run(state, text, emit)
        except asyncio.CancelledError:
            # Cancel frame or client gone, at any step: release/settle any hold, record the turn, say so.
            if not state.finished:
                state.status = "cancelled"
                await asyncio.shield(self._finish(state, emit))
            raise
        except Exception as exc:
            # PostgreSQL or Redis out of connections or down: the learner is told to try again (the same
            # message id is safe to resend) instead of waiting for a `done` that never comes. A budget hold
            # taken before the failure is given back when its lifetime ends (budget_reserve.lua).
            if not is_dependency_unavailable(exc):
                raise
            log.warning("tutor_turn_unavailable", error_type=type(exc).__name__)
            observe_unavailable()
            await emit(
                ErrorEvent(
                    code="unavailable",
                    detail="Lyceum is busy right now; try again shortly.",
                    message_id=message_id,
                    retry_after=float(RETRY_AFTER_SECONDS),
                )
            )

    async def _run(self, state: TurnState, text: Any, emit: Emit) -> None:
        message_id = state.message_id
        problem = validate_message(text, self.settings.tutor_max_message_chars)
        if problem:
            await emit(ErrorEvent(code="invalid_message", detail=problem, message_id=message_id))
            return
        # The set-up's I/O runs concurrently (one DB transaction for the resend check, prompt choice and
        # history; one Redis call for the rate limit) and the input guardrails, which are CPU only, run
        # while it is in flight: done one after the other they were most of the time to first token.
        lookup = asyncio.ensure_future(self._lookup(message_id))
        limit = asyncio.ensure_future(self._rate_limit())
        retrieval: asyncio.Future[Grounding] | None = None
        try:
            await asyncio.sleep(0)  # let both send their first request before the CPU-bound checks
            policy = self.tutor.policies.get(self.chat.org_slug)
            verdict = check_message(text, policy, self.chat.context)
            # Retrieval (the grounding passages) joins the set-up I/O with the redacted message, so it adds
            # next to nothing to the first token; a message the checks block is never searched for.
            if verdict.allowed and self.retriever is not None:
                retrieval = asyncio.ensure_future(self.retriever.retrieve(verdict.text, self.chat.context.item_title))
            setup, limited = await asyncio.gather(lookup, limit)
        except BaseException:
            lookup.cancel()
            limit.cancel()
            if retrieval is not None:
                retrieval.cancel()
            await asyncio.gather(lookup, limit, *([retrieval] if retrieval else []), return_exceptions=True)
            raise
        try:
            await self._after_setup(state, text, policy, verdict, setup, limited, retrieval, emit)
        finally:
            if retrieval is not None and not retrieval.done():
                retrieval.cancel()  # replayed, limited or blocked: the passages are not needed

    async def _after_setup(
        self,
        state: TurnState,
        text: str,
        policy: Any,
        verdict: InputVerdict,
        setup: _Setup,
        limited: RateLimited | None,
        retrieval: asyncio.Future[Grounding] | None,
        emit: Emit,
    ) -> None:
        message_id = state.message_id
        # Same precedence as before the steps ran concurrently: a resend is answered from the record
        # even when the learner is rate limited now (the limiter was charged all the same).
        if setup.replay is not None:
            await self._replay(setup.replay, message_id, emit)
            return
        if setup.assignment is not None:  # recorded on every turn of a covered learner, blocked ones too
            state.experiment_id, state.experiment_variant = setup.assignment.experiment_id, setup.assignment.variant
        if limited is not None:
            retry = float(limited.extra.get("retry_after", 1.0))
            await emit(ErrorEvent(code="rate_limited", detail=limited.detail, message_id=message_id, retry_after=retry))
            return
        # The classifier reads the message with the learner's last turns (multi-message attacks), which
        # only the lookup above could provide; it costs well under a millisecond (docs/performance.md).
        recent = [turn.user for turn in setup.turns]
        verdict = check_conversation(verdict, text, recent, policy, self.chat.context)
        state.user_text = verdict.text
        state.outcomes.extend(verdict.outcomes)
        if not verdict.allowed:
            state.status, state.error_code = "blocked", verdict.policy or "policy"
            interaction_id = await asyncio.shield(self._record(state))
            await emit(
                BlockedEvent(
                    policy=verdict.policy or "policy",
                    reason=verdict.reason or "",
                    message_id=message_id,
                    interaction_id=interaction_id,
                )
            )
            return
        self._start_check(state, policy, recent)
        try:
            if retrieval is not None:
                state.grounding = await retrieval  # bounded by its own timeout; never raises
            await self._answer(state, policy, setup, emit)
        finally:
            if state.check is not None:
                state.check.cancel()  # the turn ended before any text needed the verdict

    def _start_check(self, state: TurnState, policy: Any, recent: list[str]) -> None:
        """Start the model-based check now, so it runs while the budget is reserved and the model starts."""
        guard = self.tutor.guard
        settings = policy.input.model_check
        if guard is None or not settings.enabled:
            return
        history = recent[-policy.input.classifier.history_turns :] if policy.input.classifier.history_turns else []
        state.check = asyncio.ensure_future(guard.check(state.user_text, history))
        state.check_deadline = time.monotonic() + settings.max_wait_ms / 1000

    async def _await_check(self, state: TurnState, emit: Emit) -> bool:
        """Hold the first text until the model-based check has answered (bounded); True when it blocked."""
        task, state.check = state.check, None
        assert task is not None
        result: CheckResult | None
        try:
            result = await asyncio.wait_for(asyncio.shield(task), max(0.0, state.check_deadline - time.monotonic()))
        except TimeoutError:
            task.cancel()
            result = None
        policy = self.tutor.policies.get(self.chat.org_slug)
        settings = policy.input.model_check
        if result is not None and result.ok and not result.flagged:
            return False
        if result is not None and result.ok:
            outcome = GuardrailOutcome("model_check", "block", 1.0, f"{result.category}; model {self._guard_model}")
            name, reason = refusal(policy, kind_of(result.category))
        else:
            detail = result.detail if result is not None else f"no verdict within {settings.max_wait_ms} ms"
            if settings.on_timeout == "allow":
                # Fail open: the offline checks let this message through and the output filter still runs.
                state.outcomes.append(GuardrailOutcome("model_check", "flag", 0.0, detail))
                return False
            outcome = GuardrailOutcome("model_check", "block", 0.0, detail)
            name, reason = refusal(policy, "injection")
        state.outcomes.append(outcome)
        state.status, state.error_code = "blocked", name
        await emit(BlockedEvent(policy=name, reason=reason, message_id=state.message_id))
        return True

    @property
    def _guard_model(self) -> str:
        return self.tutor.guard.model if self.tutor.guard is not None else ""

    async def _rate_limit(self) -> RateLimited | None:
        try:
            await enforce(self.settings, self.limiter, "tutor", self._rate_buckets(), fail_open=True)
        except RateLimited as exc:
            return exc
        return None

    async def _lookup(self, message_id: str) -> _Setup:
        """One transaction: an earlier answer to this message id, the prompt version, the session's turns.

        The org's prompt overrides and running experiments come from the chat cache while the org's version
        holds (its Redis read runs beside the query; starting, changing or stopping an experiment bumps it);
        the rows are read as plain columns, and the full row only for a replay."""
        chats = self.tutor.chats
        versions = asyncio.ensure_future(chats.versions(self.chat.org_id))
        async with self.db.transaction(self.chat.org_id, self.chat.user_id) as session:
            # One query serves both the resend check and the history: the session's answered turns plus
            # any row carrying this client message id.
            answered = _ROW.c.status.in_(_HISTORY_STATUSES)
            wanted = or_(answered, _ROW.c.client_message_id == message_id) if message_id else answered
            rows = (
                await session.execute(
                    select(
                        _ROW.c.id,
                        _ROW.c.client_message_id,
                        _ROW.c.status,
                        _ROW.c.object_key,
                        _ROW.c.content_purged_at,
                    )
                    .where(_ROW.c.session_id == self.chat.id, wanted)
                    .order_by(_ROW.c.created_at)
                )
            ).all()
            replay = next((r.id for r in rows if message_id and r.client_message_id == message_id), None)
            current = await versions  # never raises: None when Redis cannot say (then no cache)
            if replay is not None:
                return _Setup(replay=await session.get(AIInteraction, replay))
            overrides = await cached(
                chats,
                "prompts",
                self.chat.org_id,
                PROMPT_NAME,
                current,
                lambda: self.tutor.prompts.overrides(session, PROMPT_NAME),
            )
            experiments = await cached(
                chats,
                "experiments",
                self.chat.org_id,
                PROMPT_NAME,
                current,
                lambda: running_experiments(session, PROMPT_NAME),
            )
        assignment = assign(experiments, self.chat.course_id, self.chat.user_id)
        chosen = None
        if assignment is not None and assignment.prompt_version is not None:
            # A version withdrawn since the start falls back to the normal assignment: never a broken turn.
            chosen = self.tutor.prompts.choose_version(PROMPT_NAME, assignment.prompt_version, overrides)
        if chosen is None:
            chosen = self.tutor.prompts.choose_from(PROMPT_NAME, self.chat.user_id, overrides)
        # Purged turns (retention, erasure) are left out: this process may still cache their text.
        history = [r for r in rows if r.status in _HISTORY_STATUSES and r.content_purged_at is None]
        contents = await asyncio.gather(*(self._content(r.object_key) for r in history))
        turns = [Turn(user=c.get("user", ""), reply=c.get("reply", "")) for c in contents]
        return _Setup(chosen=chosen, turns=turns, assignment=assignment)

    def _rate_buckets(self) -> list[Any]:
        s = self.settings
        return [
            bucket("user", f"rl:tutor:user:{self.chat.user_id}", s.rate_limit_tutor_user),
            bucket("org", f"rl:tutor:org:{self.chat.org_id}", s.rate_limit_api_org),
            bucket("global", "rl:tutor:global", s.rate_limit_api_global),
        ]

    async def _answer(self, state: TurnState, policy: Any, setup: _Setup, emit: Emit) -> None:
        if not await self._reserve(state, policy, setup, emit):
            return
        assert state.reservation is not None
        assert state.request is not None
        request = replace(state.request, max_tokens=state.reservation.max_tokens)
        await self._stream(state, request, policy, emit)
        # Shielded: once finishing starts, a cancel must not cut the settle/record/done sequence short.
        await asyncio.shield(self._finish(state, emit))

    async def _reserve(self, state: TurnState, policy: Any, setup: _Setup, emit: Emit) -> bool:
        state.request = self._request(state, setup)
        # The local estimate (ceil(chars / 4), on the high side for prose) sizes the hold instead of a
        # count_tokens round trip to the API before every reply; the settle charges the usage the model
        # reports in the stream, so budgets still record real tokens.
        state.input_tokens = estimate_request_tokens(state.request)
        scopes = budget_scopes(self.chat.org_id, self.chat.course_id, self.chat.user_id, self.chat.id, self.chat.limits)
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
            return False
        except BudgetUnavailable:
            await emit(
                ErrorEvent(
                    code="unavailable",
                    detail="Token budgets cannot be checked right now; try again shortly.",
                    message_id=state.message_id,
                    retry_after=5.0,
                )
            )
            return False
        return True

    def _request(self, state: TurnState, setup: _Setup) -> ModelRequest:
        chosen = setup.chosen
        assert chosen is not None
        state.prompt_version = chosen.version
        history = build_history(setup.turns, self.settings.tutor_history_token_budget)
        sources = state.grounding.for_model()
        context = self.chat.context
        if setup.assignment is not None and setup.assignment.hint_policy == "attempt_first":
            context = replace(context, hint_policy="attempt_first")  # the experiment arm's hint policy
        return ModelRequest(
            system=render_system(chosen, context, SAFETY_PREAMBLE, sources),
            messages=(*history, ChatMessage("user", state.user_text)),
            max_tokens=self.settings.tutor_max_output_tokens,
            model=self.settings.tutor_model,
            context=context,
            sources=sources,
        )

    async def _content(self, key: str) -> dict[str, Any]:
        # Objects are addressed by the SHA-256 of their content, so a cached copy can never be stale.
        cached = _CONTENT_CACHE.get(key)
        if cached is not None:
            _CONTENT_CACHE.move_to_end(key)
            return cached
        try:
            decoded: dict[str, Any] = msgspec.json.decode(await self.tutor.objects.get(key))
        except (FileNotFoundError, msgspec.DecodeError):
            return {}
        _remember_content(key, decoded)
        return decoded

    async def _stream(self, state: TurnState, request: ModelRequest, policy: Any, emit: Emit) -> None:
        output = OutputFilter(policy, self.chat.context, visible=(state.user_text,))
        # The model call's span carries the GenAI conventions' model and token counts, never the prompt (PII).
        with tracing.span(
            f"chat {request.model or ''}".strip(),
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": self.tutor.provider.name,
                "gen_ai.request.model": request.model or "",
            },
        ) as model_span:
            try:
                await self._stream_output(state, request, output, emit)
            finally:
                model_span.set_attribute("gen_ai.response.model", state.model)
                model_span.set_attribute("gen_ai.usage.input_tokens", state.input_tokens)
                model_span.set_attribute("gen_ai.usage.output_tokens", state.used_output_tokens())
                if state.error_code:
                    model_span.set_attribute("error.type", state.error_code)

    async def _stream_output(self, state: TurnState, request: ModelRequest, output: OutputFilter, emit: Emit) -> None:
        try:
            # aclosing: leaving early (blocked, cancelled) closes the model's HTTP stream at once.
            async with contextlib.aclosing(self.tutor.provider.stream(request)) as events:
                async for event in events:
                    if isinstance(event, StreamStart):
                        state.model, state.input_tokens = event.model, event.input_tokens or state.input_tokens
                    elif isinstance(event, TextDelta):
                        state.first_token_at = state.first_token_at or time.monotonic()
                        state.received_chars += len(event.text)
                        # Model output is untrusted: U+0000 cannot be stored in PostgreSQL text, so a NUL
                        # would cost the learner the turn. It carries nothing readable; drop it here, once.
                        text = event.text.replace("\x00", "")
                        if text and await self._pass(state, output.feed(text), emit):
                            return
                    elif isinstance(event, StreamEnd):
                        state.input_tokens, state.output_tokens = event.input_tokens, event.output_tokens
            await self._pass(state, output.finish(), emit)
        except ProviderError as exc:
            state.status, state.error_code = "error", exc.code
            if exc.output_tokens:
                state.output_tokens = exc.output_tokens
            await emit(
                ErrorEvent(code=exc.code, detail=exc.detail, message_id=state.message_id, retry_after=exc.retry_after)
            )

    async def _pass(self, state: TurnState, step: Any, emit: Emit) -> bool:
        """Send what the filter released; True when it blocked the rest of the reply."""
        if step.release and state.check is not None and await self._await_check(state, emit):
            return True  # the model-based check flagged the message: not one character was sent
        if step.release:
            state.released.append(step.release)
            await emit(DeltaEvent(text=step.release, message_id=state.message_id))
        if step.blocked is None:
            return False
        state.outcomes.append(step.blocked)
        state.status, state.error_code = "blocked", step.blocked.name
        policy = self.tutor.policies.get(self.chat.org_slug)
        await emit(
            BlockedEvent(
                policy=step.blocked.name, reason=_reason(policy, step.blocked.name), message_id=state.message_id
            )
        )
        return True

    async def _finish(self, state: TurnState, emit: Emit) -> None:
        state.finished = True
        remaining = await self._settle(state)
        if state.reservation is not None:
            bus_events.check_budgets(  # background 80% alert
                self.events,
                self.tutor.budget,
                self.markers,
                self.settings.redis_key_prefix,
                self.chat,
                state.reservation,
            )
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
                    prompt_version=state.prompt_version,
                    status=state.status,
                    sources=state.grounding.shown(),
                )
            )

    async def _settle(self, state: TurnState) -> int:
        reservation = state.reservation
        if reservation is None:
            return 0
        released = state.received_chars == 0 and state.status == "error"  # failed before any token: nothing used
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

    def _confidence(self, state: TurnState) -> float:
        return round(confidence_score(state.reply, self.chat.context, state.outcomes), 3)

    async def _record(self, state: TurnState) -> UUID:
        state.finished = True
        content: dict[str, Any] = {"user": state.user_text, "reply": state.reply}
        if state.grounding.passages:  # what the learner was shown, for replays and the transcript
            content["sources"] = msgspec.to_builtins(state.grounding.shown())
        stored = await self.tutor.objects.put(msgspec.json.encode(content), namespace=f"tutor/{self.chat.org_id}")
        _remember_content(stored.key, content)  # the next turn's history needs it: no read back from disk
        output_tokens = state.used_output_tokens()
        price_in, price_out = self.settings.model_price(state.model or self.settings.tutor_model)
        now = time.monotonic()
        interaction_id = uuid4()
        # A Core insert of plain values: the ORM's unit of work (identity map, flush, refresh) cost more
        # CPU than the row itself, and nothing reads the object back.
        row = dict(
            id=interaction_id,
            org_id=self.chat.org_id,
            session_id=self.chat.id,
            user_id=self.chat.user_id,
            course_id=self.chat.course_id,
            item_id=self.chat.item_id,
            client_message_id=state.message_id or None,
            purpose="tutor",
            content_hash=stored.content_hash,
            object_key=stored.key,
            provider=self.tutor.provider.name,
            model=state.model or self.tutor.provider.name,
            prompt_name=PROMPT_NAME,
            prompt_version=state.prompt_version,
            input_tokens=state.input_tokens,
            output_tokens=output_tokens,
            cost_usd=Decimal(str(round((state.input_tokens * price_in + output_tokens * price_out) / 1e6, 6))),
            latency_first_token_ms=int((state.first_token_at - state.started) * 1000) if state.first_token_at else None,
            latency_total_ms=int((now - state.started) * 1000),
            confidence=self._confidence(state) if state.reply else None,
            status=state.status,
            error_code=state.error_code,
            guardrail_outcomes=[_outcome(o) for o in state.outcomes],
            mode=self.chat.context.mode,
            sources=state.grounding.recorded(),
            latency_retrieval_ms=state.grounding.retrieval_ms,
            experiment_id=state.experiment_id,
            experiment_variant=state.experiment_variant,
        )
        async with self.db.transaction(self.chat.org_id, self.chat.user_id) as session:
            await session.execute(insert(_ROW).values(row))
        observe_turn(state)  # the SLIs (docs/slo.md): counted once the turn is on record
        if state.status == "blocked":
            bus_events.blocked(self.events, self.chat, state, interaction_id)  # background: never delays the turn
        return interaction_id

    async def _replay(self, row: AIInteraction, message_id: str, emit: Emit) -> None:
        """A message id already answered (a resend after a reconnect) gets the stored answer, not a new one."""
        if row.status == "blocked":
            reason = _reason(self.tutor.policies.get(self.chat.org_slug), row.error_code or "policy")
            await emit(
                BlockedEvent(
                    policy=row.error_code or "policy", reason=reason, message_id=message_id, interaction_id=row.id
                )
            )
            return
        content = await self._content(row.object_key)
        if content.get("reply"):
            await emit(DeltaEvent(text=content["reply"], message_id=message_id))
        await emit(
            DoneEvent(
                interaction_id=row.id,
                usage=Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens),
                confidence=row.confidence or 0.0,
                guardrails=row.guardrail_outcomes,
                budget=Budget(remaining_tokens=-1),
                message_id=message_id,
                provider=row.provider,
                model=row.model,
                prompt_version=row.prompt_version,
                status=row.status,
                sources=stored_sources(content),
            )
        )


def _outcome(outcome: Any) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "action": outcome.action,
        "score": round(float(outcome.score), 3),
        "detail": outcome.detail,
    }


def _reason(policy: Any, name: str) -> str:
    messages = getattr(policy, "messages", None)
    return str(getattr(messages, name, "") or "This reply was stopped by the course's safety policy.")
