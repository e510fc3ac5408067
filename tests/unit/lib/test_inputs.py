"""The input rules on their own (app/lib/inputs.py) and the socket frame-size arithmetic."""

from __future__ import annotations

import json

import pytest

from app.config import load_settings
from app.lib.errors import MalformedRequest, ValidationFailed
from app.lib.inputs import MAX_JSON_DEPTH, check_decoded, decode_frame, json_too_deep, nul_errors
from app.lib.sockets import _frame_size_over, server_max_frame_bytes, tutor_frame_max_bytes


def nested(depth: int, open_: str = "[", close: str = "]") -> bytes:
    return (open_ * depth + close * depth).encode()


@pytest.mark.parametrize(
    ("raw", "too_deep"),
    [
        (nested(MAX_JSON_DEPTH), False),
        (nested(MAX_JSON_DEPTH + 1), True),
        (b'{"a":' * MAX_JSON_DEPTH + b"1" + b"}" * MAX_JSON_DEPTH, False),
        (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), True),
        (b'[{"a":[{"b":' * 8 + b"1" + b"}]}]" * 8, False),  # 32 levels, alternating
        (b'[{"a":[{"b":' * 9 + b"1" + b"}]}]" * 9, True),  # 36
        (b'["' + b"[" * 1000 + b'"]', False),  # brackets inside a string are text
        (b'["\\"' + b"[" * 1000 + b'"]', False),  # ... also after an escaped quote
        (b"[" * 1000, True),  # unclosed: the decoder would recurse before noticing
        (b"]" * 1000 + b"[]", False),  # malformed but flat: the decoder reports it
        (b"[]" * 100_000, False),  # wide, not deep
        (b"[" * 20 + b"]" * 21, False),
    ],
)
def test_json_depth(raw: bytes, too_deep: bool) -> None:
    assert json_too_deep(raw) is too_deep


def test_json_depth_on_a_megabyte_of_brackets() -> None:
    # The largest bodies the API accepts (1 MiB); each takes milliseconds (docs/security.md), no timing here.
    assert json_too_deep(b"[" * 524_288 + b"]" * 524_288)
    assert not json_too_deep(b"[" + b"[]," * 349_000 + b"[]]")
    assert not json_too_deep(b'["' + b"[{" * 262_000 + b'"]')


def test_nul_errors_name_every_field_with_a_json_pointer() -> None:
    value = {"a": ["ok", "b\x00d"], "x/y~z": "\x00", "k\x00": 1, "deep": {"deeper": [{"s": "\x00"}]}}
    pointers = {e["pointer"] for e in nul_errors(value)}
    assert pointers == {"#/a/1", "#/x~1y~0z", "#/k\\u0000", "#/deep/deeper/0/s"}


def test_nul_errors_are_capped() -> None:
    assert len(nul_errors(["\x00"] * 1000)) == 10


def test_check_decoded_only_walks_when_the_text_has_an_escaped_nul() -> None:
    check_decoded(b'{"a": "fine"}', {"a": "\x00"})  # the text decides: no escape, no walk
    check_decoded(b'{"a": "\\\\u0000"}', {"a": "\\u0000"})  # an escaped backslash, not a NUL
    with pytest.raises(ValidationFailed) as refused:
        check_decoded('{"a": "\\u0000"}', {"a": "\x00"})
    assert refused.value.errors == [{"pointer": "#/a", "detail": "must not contain NUL (\\u0000) characters"}]


@pytest.mark.parametrize("raw", ["nope", b"\xff", "[" * 100 + "]" * 100, '{"a": "\\ud800"}', ""])
def test_decode_frame_refuses_without_the_decoders_words(raw: str | bytes) -> None:
    with pytest.raises(MalformedRequest) as refused:
        decode_frame(raw)
    assert "msgspec" not in refused.value.detail
    assert "byte" not in refused.value.detail


def test_decode_frame_decodes_text_and_bytes() -> None:
    frame = {"type": "message", "text": "héllo 😀"}
    assert decode_frame(json.dumps(frame)) == frame
    assert decode_frame(json.dumps(frame).encode()) == frame


def test_frame_sizes_count_utf8_bytes() -> None:
    assert not _frame_size_over("x" * 100, 100)
    assert _frame_size_over("x" * 101, 100)
    assert _frame_size_over("é" * 51, 100)  # 102 bytes
    assert not _frame_size_over("é" * 50, 100)
    assert _frame_size_over(b"x" * 101, 100)


def test_frame_limits_follow_the_message_limit() -> None:
    default = load_settings({"LYCEUM_SECRET_KEY": "k" * 40})
    assert tutor_frame_max_bytes(default) == 4000 * 12 + 4096
    assert server_max_frame_bytes(default) == 65536
    longer = load_settings({"LYCEUM_SECRET_KEY": "k" * 40, "LYCEUM_TUTOR_MAX_MESSAGE_CHARS": "20000"})
    assert server_max_frame_bytes(longer) >= tutor_frame_max_bytes(longer)
    assert server_max_frame_bytes(longer) % 65536 == 0
