"""A fake Anthropic Messages API on 127.0.0.1, speaking the documented wire format.

Tests drive the REAL ``anthropic`` SDK against it, so everything here is what the API sends: JSON error
bodies (``{"type": "error", "error": {"type": ..., "message": ...}}``) with ``retry-after`` and
``request-id`` headers, and for ``stream: true`` the server-sent event sequence ``message_start`` →
``content_block_start`` → ``ping`` → ``content_block_delta``* → ``content_block_stop`` → ``message_delta``
→ ``message_stop`` (or an ``error`` event mid-stream).

It is a small ASGI app served by uvicorn in a daemon thread, so it works the same for async tests,
sync tests and app servers running in other threads. Behaviour is scripted per test with
:meth:`FakeAnthropic.script`; every request received is recorded in :attr:`FakeAnthropic.requests`.

    fake = FakeAnthropic()
    base_url = fake.start()            # point ANTHROPIC_BASE_URL (settings.anthropic_base_url) here
    fake.script(reply="Hi there", failures=[529, 529], retry_after=0.1)
    ...
    assert [r.model for r in fake.message_requests] == [...]
    fake.stop()
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_REPLY = "Let's think about it together. What do you already know about this topic?"

# The error ``type`` the real API puts in the body for each status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}
SAMPLING_REMOVED_VERSION = "2026-10-21"
CHECK_TOOL = "report_verdict"  # app.domain.tutor.guardrails.model_check.TOOL_NAME
SAFE_VERDICT = {"verdict": "safe", "category": "none"}
SAMPLING_PARAMS = frozenset({"temperature", "top_p", "top_k"})
ERROR_MESSAGES = {
    "overloaded_error": "Overloaded",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "api_error": "Internal server error",
    "invalid_request_error": "Invalid request",
}


@dataclass(frozen=True)
class Script:
    """How the fake answers until the next :meth:`FakeAnthropic.script` call.

    reply / tokens_per_chunk / chunk_delay / first_token_delay: the streamed text; a "token" is one
    whitespace-separated word (with its trailing space), so the rate is tokens_per_chunk / chunk_delay.
    input_tokens / output_tokens: usage to report (default: ceil(chars/4) of the prompt; the word count).
    failures: HTTP statuses answered to the next message requests, one per request, before succeeding.
    failing_models: model -> status answered to EVERY request for that model (for fallback tests).
    retry_after: seconds sent in the ``retry-after`` header of failures (None: no header).
    error_after_chunks / error_type / error_times: send an SSE ``error`` event after that many text chunks
    (0: before any text), in the first error_times message requests (None: in every one).
    stall_seconds / stall_after_chunks / stall_times: go silent for stall_seconds, before the response
    headers (stall_after_chunks None) or after that many text chunks, in the first stall_times message
    requests (None: every one); a stall ends early when the client leaves.
    count_tokens / count_tokens_status: the count endpoint's answer, or a failure status for it.
    """

    reply: str = DEFAULT_REPLY
    tokens_per_chunk: int = 1
    chunk_delay: float = 0.0
    first_token_delay: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str = "end_turn"
    failures: tuple[int, ...] = ()
    failing_models: tuple[tuple[str, int], ...] = ()
    retry_after: float | None = None
    error_after_chunks: int | None = None
    error_type: str = "overloaded_error"
    error_times: int | None = None
    stall_seconds: float = 0.0
    stall_after_chunks: int | None = None
    stall_times: int | None = None
    # A stall also ends once this is set: a test that must act during the stall (kill a server) sets it when
    # done, so a starved test process cannot see the stall end before it acted.
    stall_until: threading.Event | None = None
    count_tokens: int | None = None
    count_tokens_status: int | None = None
    # Non-streaming requests that offer tools are answered with a tool_use block whose input is the next
    # of these (cycling), for structured-output callers such as the grader.
    tool_inputs: tuple[Any, ...] = ()
    # The tutor's model-based input check (a request forcing the ``CHECK_TOOL`` tool) is answered apart
    # from the reply: with this tool input, after check_delay seconds (ending early if the client leaves),
    # or with check_status. It never consumes ``failures`` and is not in ``message_requests``.
    check_verdict: Any = None  # None: {"verdict": "safe", "category": "none"}
    check_delay: float = 0.0
    check_status: int | None = None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float  # time.monotonic() when the body had arrived

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def system(self) -> Any:
        return self.body.get("system")

    @property
    def max_tokens(self) -> Any:
        return self.body.get("max_tokens")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass
class _State:
    script: Script = field(default_factory=Script)
    pending_failures: list[int] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    errors_sent: int = 0
    stalls_done: int = 0
    tool_calls: int = 0


def split_tokens(text: str) -> list[str]:
    """The fake's tokenisation: words with their trailing whitespace (leading whitespace kept)."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def estimate_input_tokens(body: dict[str, Any]) -> int:
    return math.ceil(len(_prompt_text(body)) / 4)


def _prompt_text(body: dict[str, Any]) -> str:
    parts = [_text_of(body.get("system"))]
    parts += [_text_of(message.get("content")) for message in body.get("messages", []) if isinstance(message, dict)]
    return "".join(parts)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return ""


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _error_body(error_type: str, message: str | None = None) -> dict[str, Any]:
    text = message or ERROR_MESSAGES.get(error_type, error_type)
    return {"type": "error", "error": {"type": error_type, "message": text}, "request_id": _request_id()}


def _request_id() -> str:
    return f"req_fake_{uuid.uuid4().hex[:20]}"


class FakeAnthropic:
    """The fake API server; see the module docstring. Thread-safe: scripted from the test thread,
    served from its own thread and event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _State()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.base_url = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Start serving on a free loopback port; returns the base URL (``http://127.0.0.1:PORT``)."""
        # IPPROTO_TCP, not the default protocol 0: asyncio sets TCP_NODELAY on accepted connections only
        # when the listening socket says it is TCP (``sock.proto``); without it Nagle holds the first small
        # write on a reused keep-alive connection until the client's delayed ACK (~40 ms on Linux).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self, lifespan="off", log_level="warning", access_log=False, http="h11", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._stopping = False
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-anthropic"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Anthropic server did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    def stop(self) -> None:
        self._stopping = True  # ends any scripted stall so shutdown does not wait for it
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> FakeAnthropic:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ scripting and inspection

    def script(self, **behaviour: Any) -> Script:
        """Replace the behaviour with a fresh :class:`Script` built from ``behaviour`` (unset fields default).

        ``failures`` and ``failing_models`` also accept a list and a dict."""
        if "failures" in behaviour:
            behaviour["failures"] = tuple(behaviour["failures"])
        if "tool_inputs" in behaviour:
            behaviour["tool_inputs"] = tuple(behaviour["tool_inputs"])
        if isinstance(behaviour.get("failing_models"), dict):
            behaviour["failing_models"] = tuple(behaviour["failing_models"].items())
        script = Script(**behaviour)
        with self._lock:
            self._state.script = script
            self._state.pending_failures = list(script.failures)
            self._state.tool_calls = 0
        return script

    def reset(self) -> None:
        """Default behaviour and no recorded requests (the per-test fixture calls this)."""
        with self._lock:
            self._state = _State()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (a copy)."""
        with self._lock:
            return list(self._state.requests)

    @property
    def message_requests(self) -> list[RecordedRequest]:
        """Only the ``POST /v1/messages`` requests (count_tokens and model-based input checks excluded)."""
        return [r for r in self.requests if r.path == "/v1/messages" and not _is_check(r.body)]

    @property
    def check_requests(self) -> list[RecordedRequest]:
        """The tutor's model-based input checks (requests forcing the ``CHECK_TOOL`` tool)."""
        return [r for r in self.requests if r.path == "/v1/messages" and _is_check(r.body)]

    # ------------------------------------------------------------------ ASGI app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            await _send_json(send, 400, _error_body("invalid_request_error", "body is not valid JSON"))
            return
        path = scope["path"]
        with self._lock:
            self._state.requests.append(RecordedRequest(scope["method"], path, headers, body, time.monotonic()))
            script = self._state.script
        if not (headers.get("x-api-key") or headers.get("authorization")):
            await _send_json(send, 401, _error_body("authentication_error", "x-api-key header is required"))
        elif scope["method"] != "POST" or path not in ("/v1/messages", "/v1/messages/count_tokens"):
            await _send_json(send, 404, _error_body("not_found_error", f"{scope['method']} {path} not found"))
        elif problem := _invalid(body, count=path.endswith("count_tokens"), version=headers.get("anthropic-version")):
            await _send_json(send, 400, _error_body("invalid_request_error", problem))
        elif path.endswith("count_tokens"):
            await self._count_tokens(send, script, body)
        else:
            await self._messages(receive, send, script, body)

    async def _count_tokens(self, send: Send, script: Script, body: dict[str, Any]) -> None:
        if script.count_tokens_status is not None:
            status = script.count_tokens_status
            await _send_json(send, status, _error_body(ERROR_TYPES.get(status, "api_error")))
            return
        tokens = script.count_tokens if script.count_tokens is not None else _input_tokens(script, body)
        await _send_json(send, 200, {"input_tokens": tokens})

    async def _messages(self, receive: Receive, send: Send, script: Script, body: dict[str, Any]) -> None:
        if _is_check(body):
            await self._check(receive, send, script, body)
            return
        script = self._for_this_request(script)
        if script.stall_seconds and script.stall_after_chunks is None:
            await self._stall(receive, script.stall_seconds, script.stall_until)
        status = self._next_failure(script, str(body.get("model", "")))
        if status is not None:
            extra = {"retry-after": f"{script.retry_after:g}"} if script.retry_after is not None else {}
            await _send_json(send, status, _error_body(ERROR_TYPES.get(status, "api_error")), extra)
        elif body.get("stream"):
            await self._stream(receive, send, script, body)
        elif body.get("tools") and script.tool_inputs:
            with self._lock:
                index = self._state.tool_calls
                self._state.tool_calls += 1
            tool_input = script.tool_inputs[index % len(script.tool_inputs)]
            await _send_json(send, 200, _tool_message_json(script, body, tool_input))
        else:
            await _send_json(send, 200, _message_json(script, body))

    async def _check(self, receive: Receive, send: Send, script: Script, body: dict[str, Any]) -> None:
        if script.check_delay:
            await self._stall(receive, script.check_delay)
        if script.check_status is not None:
            status = script.check_status
            await _send_json(send, status, _error_body(ERROR_TYPES.get(status, "api_error")))
            return
        verdict = SAFE_VERDICT if script.check_verdict is None else script.check_verdict
        await _send_json(send, 200, _tool_message_json(replace(script, reply="x"), body, verdict))

    def _for_this_request(self, script: Script) -> Script:
        """The script with the stall / mid-stream error switched off once their ``*_times`` are used up."""
        with self._lock:
            state = self._state
            if script.stall_seconds and script.stall_times is not None:
                if state.stalls_done >= script.stall_times:
                    script = replace(script, stall_seconds=0.0)
                state.stalls_done += 1
            if script.error_after_chunks is not None and script.error_times is not None:
                if state.errors_sent >= script.error_times:
                    script = replace(script, error_after_chunks=None)
                state.errors_sent += 1
        return script

    def _next_failure(self, script: Script, model: str) -> int | None:
        failing = dict(script.failing_models)
        if model in failing:
            return failing[model]
        with self._lock:
            return self._state.pending_failures.pop(0) if self._state.pending_failures else None

    async def _stream(self, receive: Receive, send: Send, script: Script, body: dict[str, Any]) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"request-id", _request_id().encode()),
                ],
            }
        )
        for event in _events(script, body):
            if event is _FIRST_TOKEN and script.first_token_delay:
                await asyncio.sleep(script.first_token_delay)
            elif event is _CHUNK_GAP and script.chunk_delay:
                await asyncio.sleep(script.chunk_delay)
            elif event is _STALL:
                await self._stall(receive, script.stall_seconds, script.stall_until)
            elif isinstance(event, bytes):
                await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stall(self, receive: Receive, seconds: float, until: threading.Event | None = None) -> None:
        """Go silent for ``seconds``; stop early when the client disconnects, the server stops or ``until`` is set."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        disconnected = asyncio.ensure_future(receive())  # after the body, the next message is http.disconnect
        try:
            while (
                not disconnected.done()
                and not self._stopping
                and loop.time() < deadline
                and not (until is not None and until.is_set())
            ):
                await asyncio.wait({disconnected}, timeout=min(0.05, max(0.0, deadline - loop.time())))
        finally:
            if not disconnected.done():
                disconnected.cancel()


# Markers in the event sequence for the pauses the script asks for.
_FIRST_TOKEN = object()
_CHUNK_GAP = object()
_STALL = object()


def _events(script: Script, body: dict[str, Any]) -> Iterator[bytes | object]:
    """The SSE sequence of one streamed reply, with pause markers between the text chunks."""
    model = str(body.get("model", ""))
    tokens = split_tokens(script.reply)
    size = max(1, script.tokens_per_chunk)
    chunks = ["".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]
    message = _message_json(replace(script, reply=""), body, model=model)
    message["usage"]["output_tokens"] = 1  # what the API reports at message_start
    yield _sse("message_start", {"type": "message_start", "message": message})
    yield _sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": _text_block("")})
    yield _sse("ping", {"type": "ping"})
    for number, chunk in enumerate(chunks):
        yield _FIRST_TOKEN if number == 0 else _CHUNK_GAP
        if number == script.stall_after_chunks and script.stall_seconds:
            yield _STALL
        if number == script.error_after_chunks:
            yield _sse("error", _error_body(script.error_type))
            return
        delta = {"type": "text_delta", "text": chunk}
        yield _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
    yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    output_tokens = script.output_tokens if script.output_tokens is not None else len(tokens)
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": script.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


def _is_check(body: dict[str, Any]) -> bool:
    choice = body.get("tool_choice")
    return isinstance(choice, dict) and choice.get("name") == CHECK_TOOL


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _message_json(script: Script, body: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    tokens = split_tokens(script.reply)
    return {
        "id": f"msg_fake_{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "model": model if model is not None else str(body.get("model", "")),
        "content": [_text_block(script.reply)] if script.reply else [],
        "stop_reason": script.stop_reason if script.reply else None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": _input_tokens(script, body),
            "output_tokens": script.output_tokens if script.output_tokens is not None else len(tokens),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def _tool_message_json(script: Script, body: dict[str, Any], tool_input: Any) -> dict[str, Any]:
    message = _message_json(script, body)
    name = str(body["tools"][0].get("name", "tool"))
    message["content"] = [
        {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": name, "input": tool_input}
    ]
    message["stop_reason"] = "tool_use"
    return message


def _input_tokens(script: Script, body: dict[str, Any]) -> int:
    return script.input_tokens if script.input_tokens is not None else estimate_input_tokens(body)


def _invalid(body: Any, *, count: bool, version: str | None) -> str:
    """The API's basic request validation; an empty string when the body is acceptable."""
    if not version:
        return "anthropic-version: header is required"
    if not isinstance(body, dict):
        return "body must be a JSON object"
    # API version 2026-10-21 (what anthropic SDK 2.x sends) rejects sampling parameters, even at defaults.
    if version >= SAMPLING_REMOVED_VERSION and (sampling := SAMPLING_PARAMS & body.keys()):
        return f"{sorted(sampling)[0]}: Extra inputs are not permitted"
    if not body.get("model"):
        return "model: Field required"
    if not count and not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if any(not isinstance(m, dict) or m.get("role") not in ("user", "assistant") for m in messages):
        return "messages: each message needs a role of 'user' or 'assistant'"
    return ""


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_json(send: Send, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"request-id", _request_id().encode()),
    ]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    if status == 529:
        headers.append((b"x-should-retry", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data, "more_body": False})
