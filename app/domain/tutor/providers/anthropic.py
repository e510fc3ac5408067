"""Claude through the official ``anthropic`` SDK, with Lyceum's own retry and fallback policy.

The SDK's built-in retries are off (``max_retries=0``) because they cannot know what we already sent
to the learner: we retry 429 / 529 / 5xx / connection failures with exponential backoff and full
jitter ONLY before the first token has been yielded, honour ``retry-after`` up to a cap, and after
``tutor_max_retries`` overloaded answers from the primary model switch once to the fallback model.
Once text has streamed, a failure is final: replaying would show the learner a second, different
beginning. Every failure leaves as a :class:`ProviderError` with a client-facing code.

The stream is read with ``with_streaming_response`` and parsed here (``_SSEParser`` + msgspec) rather
than through ``messages.stream()``: the SDK helper builds several pydantic objects per token (the raw
event, an accumulated message snapshot, a text event), which at a few hundred concurrent replies was the
largest single CPU cost of the relay. Requests, authentication and HTTP error statuses still go through
the SDK; only the body of a 200 is parsed by us.

Notes on anthropic 2.x (API version 2026-10-21): it is built on ``httpx2``, not ``httpx``, so timeouts
must be ``anthropic.Timeout`` (= ``httpx2.Timeout``) and transport errors raised while an SSE body
streams are ``httpx2`` exceptions; and sampling parameters are gone from the SDK and rejected by the
API (400 even at default values), so ``ModelRequest.temperature`` is deliberately not sent.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field, replace

import anthropic
import httpx2
import msgspec
import structlog
from anthropic.types import AssistantMessageParam, MessageParam, UserMessageParam

from app.config import Settings
from app.domain.tutor.providers.base import (
    ChatMessage,
    ModelRequest,
    ProviderError,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
)
from app.domain.tutor.providers.tokens import estimate_request_tokens, estimate_tokens

log = structlog.get_logger("lyceum.tutor.anthropic")

# httpx2 logs every request at INFO ("HTTP Request: POST .../v1/messages 200 OK") and the app's logging
# config lets INFO through, so each turn cost log records formatted and written by the log thread, under
# the GIL, on the streaming path. Model calls are already in our own logs and metrics; ANTHROPIC_LOG=info
# (the SDK's switch) still turns these lines back on.
if not os.environ.get("ANTHROPIC_LOG"):
    logging.getLogger("httpx2").setLevel(logging.WARNING)

Sleep = Callable[[float], Awaitable[None]]

# Codes worth another attempt; "timeout" only when the connection itself could not be made.
RETRYABLE_CODES = frozenset({"overloaded", "rate_limited", "unavailable"})
# count_tokens sits on the critical path before every turn: never let it wait as long as a reply may.
COUNT_TOKENS_TIMEOUT_SECONDS = 5.0
KEEPALIVE_CONNECTIONS = 1000

DETAILS = {
    "overloaded": "The AI tutor is overloaded right now. Please try again in a moment.",
    "rate_limited": "The AI tutor is receiving too many requests. Please try again shortly.",
    "timeout": "The AI tutor took too long to answer. Please try again.",
    "unavailable": "The AI tutor cannot be reached right now. Please try again shortly.",
    "bad_request": "The AI tutor could not accept this request (it may be too long).",
    "internal": "The AI tutor failed unexpectedly.",
}
# Error ``type`` in the API's JSON body / SSE ``error`` event → our code (mid-stream errors arrive on a 200).
ERROR_TYPE_CODES = {
    "overloaded_error": "overloaded",
    "rate_limit_error": "rate_limited",
    "api_error": "unavailable",
    "timeout_error": "timeout",
    "invalid_request_error": "bad_request",
    "request_too_large": "bad_request",
}


class _WireUsage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None


class _WireMessage(msgspec.Struct):
    usage: _WireUsage = msgspec.field(default_factory=_WireUsage)


class _WireDelta(msgspec.Struct):
    # content_block_delta carries {type, text}; message_delta carries {stop_reason}: one struct for both.
    type: str = ""
    text: str = ""
    stop_reason: str | None = None


class _WireError(msgspec.Struct):
    type: str = ""


class _WireEvent(msgspec.Struct):
    """The fields of a Messages API stream event that the tutor uses; everything else is skipped unparsed."""

    type: str = ""
    message: _WireMessage | None = None
    delta: _WireDelta | None = None
    usage: _WireUsage | None = None
    error: _WireError | None = None


_decode_event = msgspec.json.Decoder(_WireEvent).decode


class _SSEParser:
    """Incremental server-sent-events parser: bytes in, (event name, data) pairs out (WHATWG rules that
    the API uses: LF, CRLF or CR line ends, ``:`` comments, multi-line ``data``)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[str, bytes]]:
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            # A CR at the very end may be the first half of a CRLF split across chunks: keep it for later.
            tail = b"\r" if buffer.endswith(b"\r") else b""
            buffer = buffer[: len(buffer) - len(tail)].replace(b"\r\n", b"\n").replace(b"\r", b"\n") + tail
        *blocks, self._buffer = buffer.split(b"\n\n")
        return [event for block in blocks if (event := _sse_event(block)) is not None]


def _sse_event(block: bytes) -> tuple[str, bytes] | None:
    name, data = "", []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"event":
            name = value.decode()
        elif field == b"data":
            data.append(value)
    if not name and not data:
        return None
    return name, b"\n".join(data)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait between attempts. ``retry_after_cap``: the longest server-requested wait we
    sit through; a longer ``retry-after`` is surfaced to the client instead of waited out."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 10.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter (uniform between 0 and the exponential ceiling) spreads synchronised retries apart."""
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (retry - 1)))


@dataclass(frozen=True, slots=True)
class _Failure:
    error: ProviderError
    retryable: bool


@dataclass
class _Attempts:
    """Retry / fallback bookkeeping for one ``stream`` call."""

    model: str
    fallback: str
    policy: RetryPolicy
    retries: int = 0
    overloaded: int = 0
    switched: bool = False
    count: int = 0

    def next_delay(self, failure: _Failure, rng: random.Random) -> float | None:
        """Seconds to wait before the next attempt (on ``self.model``, possibly just switched), or None to stop."""
        if not failure.retryable:
            return None
        if failure.error.code == "overloaded" and self._switch_to_fallback():
            return 0.0  # a different model has its own capacity: no reason to wait
        if self.retries >= self.policy.max_retries:
            return None
        self.retries += 1
        retry_after = failure.error.retry_after
        if retry_after is not None:
            return retry_after if retry_after <= self.policy.retry_after_cap else None
        return self.policy.backoff(self.retries, rng)

    def _switch_to_fallback(self) -> bool:
        if self.switched or not self.fallback or self.fallback == self.model or self.policy.max_retries < 1:
            return False
        self.overloaded += 1
        if self.overloaded < self.policy.max_retries:
            return False
        self.model, self.switched, self.retries = self.fallback, True, 0
        return True


@dataclass
class _Progress:
    """What one attempt has received so far, turned into our stream events."""

    model: str
    input_tokens: int = 0
    output_tokens: int | None = None
    stop_reason: str = "end_turn"
    texts: list[str] = field(default_factory=list)
    started: bool = False
    finished: bool = False

    @property
    def streamed(self) -> bool:
        return bool(self.texts)

    def on_event(self, event: _WireEvent) -> list[StreamEvent]:
        kind = event.type
        if kind == "content_block_delta":
            delta = event.delta
            if delta is not None and delta.type == "text_delta" and delta.text:
                self.texts.append(delta.text)
                if self.started:
                    return [TextDelta(delta.text)]
                return [*self._start(), TextDelta(delta.text)]
        elif kind == "message_start":
            if event.message is not None and event.message.usage.input_tokens is not None:
                self.input_tokens = event.message.usage.input_tokens
        elif kind == "message_delta":
            if event.usage is not None:
                if event.usage.output_tokens is not None:
                    self.output_tokens = event.usage.output_tokens
                if event.usage.input_tokens is not None:  # newer API versions repeat the cumulative input count
                    self.input_tokens = event.usage.input_tokens
            if event.delta is not None:
                self.stop_reason = event.delta.stop_reason or self.stop_reason
        elif kind == "message_stop":
            self.finished = True
        return []

    def end(self) -> list[StreamEvent]:
        output = self.output_tokens if self.output_tokens is not None else estimate_tokens("".join(self.texts))
        return [*self._start(), StreamEnd(self.input_tokens, output, self.stop_reason)]

    def failed(self, failure: _Failure) -> _Failure:
        """The failure with the tokens already streamed (the API's count if it sent one, else an estimate)."""
        if not self.streamed:
            return failure
        tokens = self.output_tokens if self.output_tokens is not None else estimate_tokens("".join(self.texts))
        return replace(failure, error=replace(failure.error, output_tokens=tokens))

    def _start(self) -> list[StreamEvent]:
        # StreamStart waits for the first text (or the end) so a retried or re-routed attempt still
        # produces exactly one StreamStart, naming the model that really answers.
        if self.started:
            return []
        self.started = True
        return [StreamStart(self.model, self.input_tokens)]


class AnthropicProvider:
    """:class:`~app.domain.tutor.providers.base.ModelProvider` for Claude."""

    name = "anthropic"

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._model = settings.tutor_model
        self._fallback = settings.tutor_fallback_model
        self._policy = retry or RetryPolicy(max_retries=settings.tutor_max_retries)
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - retry jitter, not security
        self.label = f"Claude ({settings.tutor_model})"
        self._count_timeout = anthropic.Timeout(
            min(COUNT_TOKENS_TIMEOUT_SECONDS, settings.tutor_read_timeout_seconds),
            connect=settings.tutor_connect_timeout_seconds,
        )
        self._client = anthropic.AsyncAnthropic(
            api_key=settings.anthropic_api_key.value,
            base_url=settings.anthropic_base_url or None,
            timeout=anthropic.Timeout(
                settings.tutor_read_timeout_seconds, connect=settings.tutor_connect_timeout_seconds
            ),
            max_retries=0,
            # The SDK keeps 100 idle connections; with more replies than that streaming at once, every
            # burst of turns paid new connections (a TLS handshake to the real API) before its first
            # token. Keep as many idle as may be in use.
            http_client=anthropic.DefaultAsyncHttpxClient(
                limits=httpx2.Limits(
                    max_connections=KEEPALIVE_CONNECTIONS, max_keepalive_connections=KEEPALIVE_CONNECTIONS
                ),
            ),
        )

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        attempts = _Attempts(model=request.model or self._model, fallback=self._fallback, policy=self._policy)
        while True:
            attempts.count += 1
            progress = _Progress(model=attempts.model)
            try:
                # aclosing: if our consumer stops early, the HTTP response is closed now, not at GC time.
                async with aclosing(self._attempt(request, progress)) as events:
                    async for event in events:
                        yield event
                return
            except _AttemptFailed as exc:
                failure = exc.failure
            await self._before_retry(attempts, failure, progress)

    async def _before_retry(self, attempts: _Attempts, failure: _Failure, progress: _Progress) -> None:
        """Wait for the next attempt, or raise the failure when there is none (always after text streamed)."""
        tried = attempts.model
        delay = None if progress.streamed else attempts.next_delay(failure, self._rng)
        if delay is None:
            log.warning("tutor_model_failed", model=tried, code=failure.error.code, attempts=attempts.count)
            raise failure.error
        log.info(
            "tutor_model_retry",
            model=tried,
            next_model=attempts.model,
            code=failure.error.code,
            attempt=attempts.count,
            delay=round(delay, 3),
        )
        await self._sleep(delay)

    async def _attempt(self, request: ModelRequest, progress: _Progress) -> AsyncGenerator[StreamEvent, None]:
        try:
            # HTTP error statuses raise here (APIStatusError), exactly as with the SDK's stream helper.
            async with self._client.messages.with_streaming_response.create(
                model=progress.model,
                system=request.system or anthropic.omit,
                messages=_messages(request),
                max_tokens=request.max_tokens,
                stream=True,
            ) as response:
                parser = _SSEParser()
                async for chunk in response.http_response.aiter_bytes():
                    for name, data in parser.feed(chunk):
                        if name == "error":
                            raise _AttemptFailed(progress.failed(_stream_error(data)))
                        if not name or name == "ping" or not data:
                            continue  # the SDK skips these too
                        for ours in progress.on_event(_decode_event(data)):
                            yield ours
        except _AttemptFailed:
            raise
        except (anthropic.AnthropicError, httpx2.HTTPError, httpx2.StreamError) as exc:
            raise _AttemptFailed(progress.failed(classify(exc)), exc) from exc
        except Exception as exc:
            # Anything else is a bug or an SDK surprise; callers are promised ProviderError, never a raw crash.
            log.exception("tutor_model_unexpected_error")
            internal = _Failure(ProviderError("internal", DETAILS["internal"]), retryable=False)
            raise _AttemptFailed(progress.failed(internal), exc) from exc
        if not progress.finished:
            # The body ended without message_stop: the reply is truncated, not complete.
            incomplete = _Failure(ProviderError("unavailable", DETAILS["unavailable"]), retryable=True)
            raise _AttemptFailed(progress.failed(incomplete))
        for ours in progress.end():
            yield ours

    async def count_tokens(self, request: ModelRequest) -> int:
        try:
            counted = await self._client.messages.count_tokens(
                model=request.model or self._model,
                system=request.system or anthropic.omit,
                messages=_messages(request),
                timeout=self._count_timeout,
            )
        except Exception as exc:
            # Counting is for budgets, not correctness: whatever went wrong, an estimate keeps the turn going.
            log.info("tutor_count_tokens_estimated", error=type(exc).__name__)
            return estimate_request_tokens(request)
        return counted.input_tokens

    async def aclose(self) -> None:
        await self._client.close()


class _AttemptFailed(Exception):
    def __init__(self, failure: _Failure, cause: BaseException | None = None) -> None:
        super().__init__(failure.error.code)
        failure.error.__cause__ = cause  # the SDK's exception stays visible in tracebacks of the ProviderError
        self.failure = failure


def _messages(request: ModelRequest) -> list[MessageParam]:
    return [_message(message) for message in request.messages]


def _message(message: ChatMessage) -> MessageParam:
    # SDK 2.x types a message as a union per role, so each role needs its own literal.
    if message.role == "assistant":
        return AssistantMessageParam(role="assistant", content=message.content)
    return UserMessageParam(role="user", content=message.content)


def _stream_error(data: bytes) -> _Failure:
    """An SSE ``error`` event on a 200 stream (the API was overloaded or failed mid-reply)."""
    try:
        error = _decode_event(data).error
    except msgspec.DecodeError:
        error = None
    code = ERROR_TYPE_CODES.get(error.type if error is not None else "", "unavailable")
    return _Failure(ProviderError(code, DETAILS[code]), retryable=code in RETRYABLE_CODES)


def classify(exc: BaseException) -> _Failure:
    """Map an SDK / transport exception to a client-facing ProviderError, and whether to retry it."""
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        # A connect timeout never reached the server, so another try is safe and may land elsewhere.
        connect = isinstance(exc.__cause__ or exc, httpx2.ConnectTimeout)
        return _Failure(ProviderError("timeout", DETAILS["timeout"]), retryable=connect)
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        return _Failure(ProviderError("unavailable", DETAILS["unavailable"]), retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        code = _status_code(exc.status_code, _error_type(exc.body))
        retry_after = parse_retry_after(exc.response.headers) if exc.status_code >= 400 else None
        detail = DETAILS[code]
        return _Failure(ProviderError(code, detail, retry_after=retry_after), retryable=code in RETRYABLE_CODES)
    return _Failure(ProviderError("internal", DETAILS["internal"]), retryable=False)


def _status_code(status: int, error_type: str) -> str:
    if status == 429:
        return "rate_limited"
    if status == 529:
        return "overloaded"
    if status in (400, 413, 422):
        return "bad_request"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "unavailable"
    if status < 400:  # an SSE ``error`` event on a 200 stream: only the body says what happened
        return ERROR_TYPE_CODES.get(error_type, "unavailable")
    return "internal"  # 401/403/404: our key, permissions or model name are wrong; the learner can't fix it


def _error_type(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("type", ""))
    return ""


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (delta-seconds or an HTTP date); None if absent or bad."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
