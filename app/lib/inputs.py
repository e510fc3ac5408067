"""What Lyceum refuses in any input, whichever route or socket it arrives on.

Three kinds of well-formed but hostile input used to fail deep inside a handler as a 5xx:

* **NUL** (U+0000): valid in JSON (``"\\u0000"``) and in URLs (``%00``), but PostgreSQL text cannot
  store it and file paths cannot contain it, so it failed in a query or an ``open()``. Refused with a
  422 naming the field (a JSON pointer, or the query parameter).
* **Deep nesting**: msgspec recurses once per level, so a body of ``[`` x 1,000 raised RecursionError.
  Refused with a 400 before decoding when nested deeper than ``MAX_JSON_DEPTH``.
* **Invalid UTF-8** in a JSON body: msgspec raises UnicodeDecodeError, which Litestar does not map.
  Refused with a 400. (Lone surrogates need nothing here: msgspec refuses ``"\\ud800"`` as malformed.)

One rule set, three doors: HTTP JSON bodies (``LyceumRequest.json``, installed as the app's request
class), query strings and paths (``InputGuardMiddleware``) and WebSocket JSON frames (``decode_frame``).
Request size limits stay where they are (``LYCEUM_MAX_BODY_BYTES``; socket frames in app/lib/sockets.py).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.middleware import AbstractMiddleware
from litestar.types import Empty, Receive, Scope, Send

from app.lib.errors import MalformedRequest, ValidationFailed

# Lyceum's request bodies nest four or five levels at most; 32 leaves room for any sensible client
# while keeping the decoder's recursion far from Python's limit.
MAX_JSON_DEPTH = 32
NUL_DETAIL = "must not contain NUL (\\u0000) characters"
MAX_REPORTED = 10  # field errors listed per response; the first few are enough to fix a client

# A JSON string (escapes included), matched without backtracking so a hostile body stays linear.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKETS_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
# Only an escaped NUL can put U+0000 into a decoded JSON string (a raw NUL byte is malformed JSON).
_ESCAPED_NUL = b"\\u0000"


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON text ``raw`` nests arrays/objects deeper than ``limit``, without decoding it.

    The text is reduced to its brackets (strings removed, ``{}`` treated as ``[]``); each pass of
    ``bytes.replace(b"[]", b"")`` then removes exactly one level. All of it runs in C, so even a
    1 MiB body of brackets takes a few milliseconds. Malformed input is left to the decoder, except
    that unclosed openers count as depth (the decoder would recurse into them before noticing).
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    skeleton = _JSON_STRING.sub(b"", raw).translate(_BRACKETS_AS_SQUARE, _NOT_BRACKETS)
    for level in range(limit + 1):
        reduced = skeleton.replace(b"[]", b"")
        if reduced == skeleton:
            # Fully reduced after ``level`` passes; what is left is unmatched, e.g. "]]" or "[[[".
            return level + skeleton.count(b"[") > limit
        skeleton = reduced
    return True  # still nested after limit + 1 passes


def nul_errors(value: Any, pointer: str = "#") -> list[dict[str, Any]]:
    """Field errors (RFC 9457 ``errors`` entries with JSON pointers) for strings and keys holding NUL."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[str, Any]] = [(pointer, value)]
    while stack and len(errors) < MAX_REPORTED:
        where, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                errors.append({"pointer": where, "detail": NUL_DETAIL})
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                child_pointer = f"{where}/{_pointer_token(str(key))}"
                if isinstance(key, str) and "\x00" in key:
                    errors.append({"pointer": child_pointer, "detail": f"the member name {NUL_DETAIL}"})
                stack.append((child_pointer, child))
        elif isinstance(item, list):
            stack.extend((f"{where}/{index}", child) for index, child in reversed(list(enumerate(item))))
    return errors


def _pointer_token(key: str) -> str:
    # RFC 6901 escaping; NUL is shown escaped so the error itself carries no control character.
    return key.replace("~", "~0").replace("/", "~1").replace("\x00", "\\u0000")


def check_decoded(raw: str | bytes, value: Any) -> None:
    """Raise ValidationFailed when ``value``, decoded from the JSON text ``raw``, holds NUL in a string or key."""
    escaped = _ESCAPED_NUL.decode() in raw if isinstance(raw, str) else _ESCAPED_NUL in raw
    if not escaped:
        return  # the common case: no escaped NUL in the text, so no NUL in the value
    errors = nul_errors(value)
    if errors:
        raise ValidationFailed(_summary(errors), errors=errors)


def check_depth(raw: bytes) -> None:
    if json_too_deep(raw):
        raise MalformedRequest(
            f"JSON is nested deeper than {MAX_JSON_DEPTH} levels",
            errors=[{"pointer": "#", "detail": f"nested deeper than {MAX_JSON_DEPTH} levels"}],
        )


def decode_frame(raw: str | bytes) -> Any:
    """Decode one WebSocket JSON frame: MalformedRequest when it is not JSON, too deep or not UTF-8.

    The detail is safe to show the client (never the decoder's message). Strings are checked
    separately (``check_decoded``), so a socket can tell a bad message from a bad frame.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    check_depth(data)
    try:
        return msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise MalformedRequest("Frames must be JSON objects.") from exc


def _summary(errors: list[dict[str, Any]]) -> str:
    where = ", ".join(str(e.get("pointer") or e.get("parameter")) for e in errors[:3])
    return f"{where}: {NUL_DETAIL}"


class LyceumRequest(Request[Any, Any, Any]):
    """Litestar's Request with the input rules applied where every JSON body is decoded.

    Litestar decodes ``data`` parameters through ``Request.json()``, so this one override covers every
    route (login included) without per-schema checks.
    """

    async def json(self) -> Any:
        if self._json is not Empty:
            return self._json
        if self._connection_state.json is not Empty:
            self._json = self._connection_state.json
            return self._json
        body = await self.body()
        check_depth(body)
        try:
            value = await super().json()
        except UnicodeDecodeError as exc:
            raise MalformedRequest("The body is not valid UTF-8 JSON") from exc
        check_decoded(body, value)
        return value


class InputGuardMiddleware(AbstractMiddleware):
    """Refuses NUL in the URL path (400) and in query parameters (422 naming them) on every HTTP route.

    The path is already percent-decoded by the server; the query string is still raw, so ``%00`` is
    what to look for there (a raw NUL byte never gets past the HTTP parser).
    """

    scopes = {ScopeType.HTTP}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "\x00" in scope["path"]:
            raise MalformedRequest("The URL path contains a NUL (%00) character")
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            errors = _query_nul_errors(query)
            if errors:
                raise ValidationFailed(_summary(errors), errors=errors)
        await self.app(scope, receive, send)


def _query_nul_errors(query: bytes) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace"):
        if "\x00" in name or "\x00" in value:
            errors.append({"parameter": name.replace("\x00", "\\u0000"), "detail": NUL_DETAIL})
    return errors[:MAX_REPORTED]


FORM_URLENCODED = "application/x-www-form-urlencoded"


class FormUnreadable(Exception):
    """A urlencoded body that cannot be taken: ``status`` 415 (not a form), 413 (too large) or 400, with a
    ``code`` and a ``detail`` for the caller's own refusal (an LTI or SAML error page)."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail, self.status = code, detail, status


async def urlencoded_fields(request: Request[Any, Any, Any], *, max_fields: int) -> dict[str, str]:
    """A browser-posted form (an LMS launch, a SAML POST binding) as name -> first value: UTF-8, at most
    ``max_fields`` fields, no NUL characters, within LYCEUM_MAX_BODY_BYTES. Anything else is FormUnreadable."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM_URLENCODED:
        raise FormUnreadable("bad_form", f"the body must be {FORM_URLENCODED}", 415)
    try:
        body = await request.body()
    except ClientException as exc:  # over LYCEUM_MAX_BODY_BYTES
        raise FormUnreadable("too_large", "the request body is too large", 413) from exc
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormUnreadable("bad_form", f"the form body cannot be read (UTF-8, at most {max_fields} fields)") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise FormUnreadable("bad_form", "the form must not contain NUL characters")
        fields.setdefault(name, value)
    return fields
