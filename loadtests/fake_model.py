"""A small stand-in for the Anthropic Messages API, so load runs exercise the model path without a real model.

    uv run python loadtests/fake_model.py --port 18400 --first-token-ms 400 --token-ms 15
    ANTHROPIC_API_KEY=sk-ant-load ANTHROPIC_BASE_URL=http://127.0.0.1:18400 uv run lyceum up

What it answers (everything Lyceum asks a model, docs/tutor.md and docs/grading.md):

* ``POST /v1/messages`` with ``"stream": true`` (the tutor): a fixed tutoring reply, streamed as the API
  streams (message_start, content_block_delta …, message_delta with usage, message_stop), after
  ``--first-token-ms`` and then one token every ``--token-ms``: a model's latency, not its CPU;
* ``POST /v1/messages`` forcing the ``record_grade`` tool (short-answer grading): the top level of every
  rubric criterion, read from the prompt's ``Criterion: <name>`` / ``- level <label> (<points> points)``
  lines, so the two grading passes agree and the grade is confident;
* any other forced tool (the guardrail's ``report_verdict``): ``{"verdict": "safe", "category": "none"}``
  for ``report_verdict``, ``{}`` otherwise; other non-streamed calls: the reply as one text block;
* ``POST /v1/messages/count_tokens``: characters / 4.

Only loopback: it binds 127.0.0.1 and is not a test double (no scripting, no recording); the test suite
has its own (tests/support/fake_anthropic). Standard library plus uvicorn, which Lyceum already runs on.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

REPLY = (
    "Good question. Think about what happens when many requests miss the cache at the same moment: "
    "each of them goes to the database for the same value. What could make only one of them do the work, "
    "while the others wait for its result? Consider a lock per key, or serving the stale value while one "
    "request refreshes it, and ask yourself which of the two your product page can tolerate."
)
_CRITERION = re.compile(r"^Criterion: (.+?): ", re.MULTILINE)
_LEVEL = re.compile(r"^\s+- level (.+?) \(([\d.]+) points\)", re.MULTILINE)
_WORDS = re.compile(r"\S+\s*")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text(block.get("text", "")) if isinstance(block, dict) else str(block) for block in content)
    return ""


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join([_text(body.get("system", ""))] + [_text(m.get("content", "")) for m in body.get("messages", [])])


def top_levels(prompt: str) -> list[dict[str, Any]]:
    """Each rubric criterion of the prompt with its best level (the grader's prompt lists them in order)."""
    scored: list[dict[str, Any]] = []
    starts = [(m.start(), m.group(1)) for m in _CRITERION.finditer(prompt)] + [(len(prompt), "")]
    for (start, name), (end, _) in itertools.pairwise(starts):
        levels = [(float(points), label) for label, points in _LEVEL.findall(prompt[start:end])]
        if levels:
            points, label = max(levels)
            rationale = "The answer covers this criterion fully."
            scored.append({"criterion": name, "level": label, "points": points, "rationale": rationale})
    return scored


class FakeModel:
    def __init__(self, first_token_ms: float, token_ms: float) -> None:
        self.first_token = first_token_ms / 1000.0
        self.per_token = token_ms / 1000.0

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        try:
            body = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            await _json(send, 400, {"type": "error", "error": {"type": "invalid_request_error", "message": "JSON"}})
            return
        path = scope["path"]
        if scope["method"] != "POST" or path not in ("/v1/messages", "/v1/messages/count_tokens"):
            await _json(send, 404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
        elif path.endswith("count_tokens"):
            await _json(send, 200, {"input_tokens": _input_tokens(body)})
        elif body.get("stream"):
            await self._stream(send, body)
        else:
            await asyncio.sleep(self.first_token)
            await _json(send, 200, _message(body))

    async def _stream(self, send: Send, body: dict[str, Any]) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def event(name: str, data: dict[str, Any]) -> None:
            payload = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            await send({"type": "http.response.body", "body": payload, "more_body": True})

        start = _message(body, text="")
        start["usage"]["output_tokens"] = 1
        await event("message_start", {"type": "message_start", "message": start})
        block: dict[str, Any] = {"type": "text", "text": ""}
        await event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
        await asyncio.sleep(self.first_token)
        tokens = _WORDS.findall(REPLY)
        for number, token in enumerate(tokens):
            if number:
                await asyncio.sleep(self.per_token)
            delta = {"type": "text_delta", "text": token}
            await event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        await event("content_block_stop", {"type": "content_block_stop", "index": 0})
        usage = {"output_tokens": len(tokens)}
        stop = {"stop_reason": "end_turn", "stop_sequence": None}
        await event("message_delta", {"type": "message_delta", "delta": stop, "usage": usage})
        await event("message_stop", {"type": "message_stop"})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _input_tokens(body: dict[str, Any]) -> int:
    return max(1, len(prompt_text(body)) // 4)


def _message(body: dict[str, Any], text: str = REPLY) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    stop = "end_turn"
    choice = body.get("tool_choice")
    tools = body.get("tools") or []
    if tools and isinstance(choice, dict) and choice.get("type") in ("tool", "any"):
        name = str(choice.get("name") or tools[0].get("name", "tool"))
        tool_input: dict[str, Any] = {}
        if name == "record_grade":
            tool_input = {"criteria": top_levels(prompt_text(body))}
        elif name == "report_verdict":
            tool_input = {"verdict": "safe", "category": "none"}
        content = [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": name, "input": tool_input}]
        stop = "tool_use"
    return {
        "id": f"msg_load_{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "model": str(body.get("model", "")),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": _input_tokens(body),
            "output_tokens": len(_WORDS.findall(text)) if text else 40,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


async def _json(send: Send, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data, "more_body": False})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18400)
    parser.add_argument("--first-token-ms", type=float, default=400.0, help="delay before the first token")
    parser.add_argument("--token-ms", type=float, default=15.0, help="delay between tokens")
    args = parser.parse_args()
    app = FakeModel(args.first_token_ms, args.token_ms)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
