"""Hostile inputs and what every answer to them must look like; shared by the route walker
(tests/integration/api/test_bad_input.py), the fuzzer (test_fuzz.py) and the socket tests.

The rule (team brief, non-negotiable 4): bad input gets a clear 4xx problem+json and loses nothing;
never a 5xx, and never the server's insides (exception text, tracebacks, framework messages).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

# Text that only ever comes from the server's insides.
INTERNALS = (
    "Traceback",
    'File "',
    "AuthMiddleware",
    "defined in scope",
    "Exception",
    "RecursionError",
    "UnicodeDecodeError",
    "ValueError",
    "KeyError",
    "TypeError",
    "sqlalchemy",
    "asyncpg",
    "embedded null byte",
    "Redis unavailable",
)
DEEP = 1000  # the depth that used to raise RecursionError on every JSON route
HUGE_CHARS = 300_000  # a string well above every field's limit, with the body still under 1 MiB


def internals_in(text: str) -> list[str]:
    return [marker for marker in INTERNALS if marker in text]


def problems_with(response: httpx.Response, label: str) -> list[str]:
    """What is wrong with ``response`` to hostile input (empty when it is fine)."""
    found = []
    status = response.status_code
    if status >= 500:
        found.append(f"{label} -> {status}: {response.text[:200]}")
    leaked = internals_in(response.text) + internals_in(" ".join(response.headers.values()))
    if leaked:
        found.append(f"{label} -> {status} leaks {leaked}: {response.text[:200]}")
    content_type = response.headers.get("content-type", "")
    if (
        400 <= status < 500
        and response.content
        and not content_type.startswith("application/problem+json")
        and not _exempt_from_problem_json(response)
    ):
        found.append(f"{label} -> {status} is not problem+json: {content_type}")
    return found


def _exempt_from_problem_json(response: httpx.Response) -> bool:
    # The interactive API docs render their own HTML "not found" page for unknown documents under /schema.
    if response.request.url.path.startswith("/schema/") and response.status_code == 404:
        return True
    # The LTI login and launch answer a browser inside the LMS frame: their refusals are HTML pages (issue 14).
    path = response.request.url.path
    return path in ("/lti/login", "/lti/launch") and response.headers.get("content-type", "").startswith("text/html")


def assert_refused(response: httpx.Response, status: int, **where: str) -> dict[str, Any]:
    """A clean refusal: ``status``, problem+json, no internals, and (if given) the field it names."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    assert not internals_in(response.text), response.text
    body: dict[str, Any] = response.json()
    for key, value in where.items():
        assert any(error.get(key) == value for error in body.get("errors", [])), body
    return body


def deep_json(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def nested_in(value: Any, depth: int = DEEP) -> Any:
    """``value`` wrapped ``depth`` levels deep (as a Python object, for json= arguments)."""
    for _ in range(depth):
        value = [value]
    return value


def string_leaves(value: Any, pointer: str = "#") -> Iterator[str]:
    """JSON pointers (RFC 6901, as the API names fields) of every string in ``value``."""
    if isinstance(value, str):
        yield pointer
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from string_leaves(child, f"{pointer}/{_escape(str(key))}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from string_leaves(child, f"{pointer}/{index}")


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def replace_at(value: Any, pointer: str, new: Any) -> Any:
    """A copy of ``value`` with the item at ``pointer`` (``#/a/0/b``) replaced by ``new(old)``."""
    if pointer == "#":
        return new(value)
    head, _, rest = pointer[2:].partition("/")
    child_pointer = "#/" + rest if rest else "#"
    if isinstance(value, list):
        index = int(head)
        return [replace_at(v, child_pointer, new) if i == index else v for i, v in enumerate(value)]
    key = head.replace("~1", "/").replace("~0", "~")
    return {k: replace_at(v, child_pointer, new) if k == key else v for k, v in value.items()}


def with_nul(text: str) -> str:
    return f"{text[:10]}\x00{text[10:]}"


def example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A plausible value for an OpenAPI schema: every property present, strings as their format asks."""
    if "$ref" in schema:
        return example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return example(options[0], components) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        return {name: example(prop, components) for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(schema.get("items", {}), components)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(max(schema.get("minimum", 1), 1))
    if kind == "boolean":
        return True
    if kind == "string":
        return _example_string(schema)
    return None


def _example_string(schema: dict[str, Any]) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "email":
        return f"walker-{uuid.uuid4().hex[:8]}@acme.test"
    if fmt == "date-time":
        return "2026-01-01T00:00:00Z"
    text = "A plausible value for this field, long enough for its minimum."
    return text.ljust(int(schema.get("minLength", 0)), "x")


def openapi_path(litestar_path: str) -> str:
    """``/v1/users/{user_id:uuid}`` -> ``/v1/users/{user_id}``."""
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", litestar_path)
