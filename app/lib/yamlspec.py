"""One loader for the YAML files people edit (courses, the seed plan, guardrail policies, prompts).

A file is parsed keeping the line of every key and list entry (syntax errors and duplicate keys are reported
with their line), then converted with msgspec into a Struct type. Every problem becomes a :class:`SpecError`
naming the file, the location inside the document (``modules[1].items[3].bloom_level``, ``$`` for the root),
the reason and, when known, the line. msgspec's terse messages are rewritten for authors: unknown keys get a
"did you mean" suggestion or the list of allowed keys, bad enum values the allowed values, regex failures a
plain description of the expected shape.
"""

from __future__ import annotations

import difflib
import re
import sys
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

T = TypeVar("T")
Segments = list[str | int]


@dataclass(frozen=True)
class SpecError:
    """One problem in a YAML file. ``line`` is 1-based when known."""

    file: str
    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        text = f"{self.file}: {self.path}: {self.reason}"
        if self.line is not None and f"line {self.line}" not in self.reason:
            text += f" (line {self.line})"
        return text


# =========================================================================== paths


def join(parent: str, key: object) -> str:
    """``$`` + ``a`` -> ``a``; ``a`` + 1 -> ``a[1]``; ``a`` + ``b`` -> ``a.b``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return str(key) if parent == "$" else f"{parent}.{key}"


def parent(path: str) -> str:
    if path == "$":
        return path
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else "$"


def format_path(segments: Sequence[str | int]) -> str:
    path = "$"
    for segment in segments:
        path = join(path, segment)
    return path


_PATH_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def split_path(path: str) -> Segments:
    """``modules[1].slug`` (or msgspec's ``$.modules[1].slug``) -> ``["modules", 1, "slug"]``."""
    if path == "$":
        return []
    body = path[1:] if path.startswith("$") else "." + path
    return [key if key else int(index) for key, index in _PATH_TOKEN.findall(body)]


# =========================================================================== parsing


@dataclass
class Document:
    """A parsed YAML file: its data plus the line of every path, for error locations."""

    file: str
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def has(self, path: str) -> bool:
        return path in self.lines

    def line_for(self, path: str) -> int | None:
        """The line of ``path`` or, failing that, of its nearest parent present in the file."""
        while True:
            if path in self.lines:
                return self.lines[path]
            up = parent(path)
            if up == path:
                return None
            path = up

    def error(self, path: str, reason: str) -> SpecError:
        return SpecError(self.file, path, reason, self.line_for(path))


def _walk(
    node: yaml.Node, path: str, lines: dict[str, int], duplicates: list[tuple[str, int]], active: set[int]
) -> None:
    if id(node) in active:  # a recursive alias; nothing sensible to map
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            child = join(path, key)
            if key in seen and key != "<<":
                duplicates.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            lines.setdefault(child, key_node.start_mark.line + 1)
            _walk(value_node, child, lines, duplicates, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, value_node in enumerate(node.value):
            child = join(path, index)
            lines.setdefault(child, value_node.start_mark.line + 1)
            _walk(value_node, child, lines, duplicates, active)
    active.discard(id(node))


def _syntax_error(file: str, exc: yaml.YAMLError) -> SpecError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        line, column = exc.problem_mark.line + 1, exc.problem_mark.column + 1
        reason = f"YAML syntax error at line {line}, column {column}: {exc.problem}"
        if exc.context:
            where = ""
            if exc.context_mark is not None and exc.context_mark.line + 1 != line:
                where = f" started at line {exc.context_mark.line + 1}"
            reason += f" ({exc.context}{where})"
        return SpecError(file, "$", reason, line)
    return SpecError(file, "$", f"YAML syntax error: {exc}")


def parse(path: Path) -> tuple[Document | None, list[SpecError]]:
    """Read and parse one YAML file; on any problem (unreadable, syntax, duplicate keys, empty) no document."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [SpecError(file, "$", "file not found")]
    except UnicodeDecodeError as exc:
        return None, [SpecError(file, "$", f"file is not valid UTF-8 text ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return None, [SpecError(file, "$", f"cannot read file: {exc.strerror or exc}")]
    return _parse(file, text)


@dataclass(frozen=True)
class TextLimits:
    """What text from an untrusted source (a browser upload) may contain before it is composed: no aliases
    (an alias can expand a few hundred bytes into billions of nodes: a "YAML bomb"), and nesting no deeper
    than ``max_depth`` (PyYAML composes and constructs recursively, so a deep document would exhaust the
    stack). Checked on the event stream, which is produced without recursion and in linear time."""

    max_depth: int = 32


def parse_text(
    raw: bytes | str, file: str, limits: TextLimits = TextLimits()
) -> tuple[Document | None, list[SpecError]]:
    """Parse YAML text received rather than read from a file (the browser editor's uploads): the same
    document and errors as :func:`parse`, after refusing what only hostile or broken input contains (invalid
    UTF-8, NUL bytes, aliases, excessive nesting)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [SpecError(file, "$", f"the text is not valid UTF-8 ({exc.reason} at byte {exc.start})", 1)]
    else:
        text = raw
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        return None, [SpecError(file, "$", f"the text contains a NUL character (line {line})", line)]
    refused = _refuse_untrusted(file, text, limits)
    if refused is not None:
        return None, [refused]
    return _parse(file, text)


def _refuse_untrusted(file: str, text: str, limits: TextLimits) -> SpecError | None:
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                return SpecError(
                    file, "$", f"aliases (`*{event.anchor}`) are not accepted here: write the value out", line
                )
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                if depth > limits.max_depth:
                    line = event.start_mark.line + 1 if event.start_mark is not None else None
                    return SpecError(
                        file, "$", f"the document is nested more than {limits.max_depth} levels deep", line
                    )
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        return _syntax_error(file, exc)
    return None


def _parse(file: str, text: str) -> tuple[Document | None, list[SpecError]]:
    loader = yaml.SafeLoader(text)
    lines: dict[str, int] = {}
    duplicates: list[tuple[str, int]] = []
    try:
        node = loader.get_single_node()
        if node is not None:
            lines["$"] = node.start_mark.line + 1
            _walk(node, "$", lines, duplicates, set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        return None, [_syntax_error(file, exc)]
    finally:
        loader.dispose()
    if duplicates:
        return None, [
            SpecError(file, dup, f"duplicate key `{dup.rsplit('.', 1)[-1]}` (a key may appear once)", line)
            for dup, line in duplicates
        ]
    if data is None:
        return None, [SpecError(file, "$", "file is empty", 1)]
    return Document(file, data, lines), []


# =========================================================================== msgspec conversion

_AT = re.compile(r"^(?P<reason>.*) - at `(?P<path>\$[^`]*)`$", re.DOTALL)
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`$")
_BAD_ENUM = re.compile(r"^Invalid enum value (?P<value>.*)$")
_BAD_PATTERN = re.compile(r"^Expected `str` matching regex (?P<pattern>.*)$")

# A hook for messages only one kind of file can explain: (root type, data, segments, reason) -> None to pass.
Explain = Callable[[type, Any, Segments, str], tuple[Segments, str] | None]


@dataclass(frozen=True)
class Spec:
    """How to word the problems of one kind of file.

    ``noun`` names a key (``unknown field `x```, ``unknown setting `x```); ``allowed`` introduces the list of
    allowed keys when no close match exists; ``choices`` gives the allowed values of an enum by key name;
    ``patterns`` describes a regex in words; ``explain`` handles anything else first.
    """

    noun: str = "field"
    allowed: str = "this object allows:"
    tag_noun: str = "object"
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)
    patterns: Mapping[str, str] = field(default_factory=dict)
    explain: Explain | None = None


def _unwrap(annotation: Any, data: Any) -> Any:
    """Strip Annotated/Optional and pick the member of a tagged union matching ``data``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        args = typing.get_args(annotation)
        if args and origin not in (list, tuple, dict, typing.Literal):  # a union
            members = [arg for arg in args if arg is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
            for member in members:
                config = getattr(member, "__struct_config__", None)
                if config is None or config.tag_field is None:
                    continue
                tag = data.get(config.tag_field) if isinstance(data, dict) else None
                if config.tag == tag:
                    return member
            return None
        return annotation


def struct_at(root: type, data: Any, segments: Sequence[str | int]) -> tuple[type | None, Any]:
    """The Struct type (and raw data) found at ``segments`` below ``root``, or (None, data)."""
    annotation: Any = root
    for segment in segments:
        annotation = _unwrap(annotation, data)
        if annotation is None:
            return None, None
        if isinstance(segment, int):
            args = typing.get_args(annotation)
            if typing.get_origin(annotation) not in (list, tuple) or not args:
                return None, None
            annotation = args[0]
            data = data[segment] if isinstance(data, list) and segment < len(data) else None
        else:
            if not isinstance(annotation, type) or not issubclass(annotation, msgspec.Struct):
                return None, None
            by_name = {f.encode_name: f for f in msgspec.structs.fields(annotation)}
            if segment not in by_name:
                return None, None
            annotation = by_name[segment].type
            data = data.get(segment) if isinstance(data, dict) else None
    annotation = _unwrap(annotation, data)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation, data
    return None, data


def value_at(data: Any, segments: Sequence[str | int]) -> Any:
    for segment in segments:
        if isinstance(segment, int) and isinstance(data, list) and segment < len(data):
            data = data[segment]
        elif isinstance(segment, str) and isinstance(data, dict):
            data = data.get(segment)
        else:
            return None
    return data


def did_you_mean(name: str, known: Collection[str]) -> str:
    """`` (did you mean `x`?)`` when ``name`` is close to one of ``known``, else empty."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def explain(spec: Spec, root: type, data: Any, segments: Segments, reason: str) -> tuple[Segments, str]:
    """Make msgspec's terse message helpful to authors (allowed keys and values, did-you-mean)."""
    if spec.explain is not None:
        custom = spec.explain(root, data, segments, reason)
        if custom is not None:
            return custom
    last = segments[-1] if segments else None
    unknown = _UNKNOWN_FIELD.match(reason)
    if unknown:
        name = unknown.group("field")
        struct, _ = struct_at(root, data, segments)
        reason = f"unknown {spec.noun} `{name}`"
        if struct is not None:
            allowed = [f.encode_name for f in msgspec.structs.fields(struct)]
            tag = getattr(struct, "__struct_config__").tag  # noqa: B009 - mypy does not know the attribute
            close = difflib.get_close_matches(name, allowed, n=1)
            if close:
                hint = f"did you mean `{close[0]}`?"
            elif isinstance(tag, str):
                hint = f"not a {spec.noun} of a `{tag}` {spec.tag_noun}; it allows: {', '.join(allowed)}"
            else:
                hint = f"{spec.allowed} {', '.join(allowed)}"
            reason += f" ({hint})"
        return [*segments, name], reason
    bad_pattern = _BAD_PATTERN.match(reason)
    if bad_pattern:
        pattern = bad_pattern.group("pattern").strip("'")
        if pattern in spec.patterns:
            return segments, f"{value_at(data, segments)!r} is not {spec.patterns[pattern]}"
        return segments, reason
    if _BAD_ENUM.match(reason):
        key = last if isinstance(last, str) else (segments[-2] if len(segments) > 1 else None)
        if isinstance(key, str) and key in spec.choices:
            reason += f" (allowed: {', '.join(spec.choices[key])})"
    return segments, reason


def convert(data: Any, target: type[T], spec: Spec = Spec()) -> tuple[T | None, tuple[str, str] | None]:
    """``data`` as a ``target``, or None and the (path, reason) of the first problem."""
    try:
        return msgspec.convert(data, target), None
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.match(message)
        segments = split_path(match.group("path")) if match else []
        reason = match.group("reason") if match else message
        segments, reason = explain(spec, target, data, segments, reason)
        return None, (format_path(segments), reason)


def decode(document: Document, target: type[T], spec: Spec = Spec()) -> tuple[T | None, list[SpecError]]:
    """The document's data as a ``target``, or None and the problem located in the document."""
    value, problem = convert(document.data, target, spec)
    if problem is None:
        return value, []
    return None, [document.error(*problem)]


def load(path: Path, target: type[T], spec: Spec = Spec()) -> tuple[T | None, list[SpecError]]:
    """Parse and decode one file; the value, or None and every problem found."""
    value, _, errors = load_document(path, target, spec)
    return value, errors


def load_document(
    path: Path, target: type[T], spec: Spec = Spec()
) -> tuple[T | None, Document | None, list[SpecError]]:
    """Like :func:`load`, with the parsed document when the value decoded (for checks that point at lines)."""
    document, errors = parse(path)
    if document is None:
        return None, None, errors
    value, errors = decode(document, target, spec)
    return value, (document if value is not None else None), errors


def report_problems(problems: Sequence[object], checked: Sequence[object]) -> int:
    """The end of a validating command line: every problem and their count on stderr and exit code 1, or
    ``valid: <what was checked>`` and 0."""
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} error(s)", file=sys.stderr)
        return 1
    print(f"valid: {', '.join(str(c) for c in checked)}")
    return 0


__all__ = [
    "Document",
    "Spec",
    "SpecError",
    "TextLimits",
    "convert",
    "decode",
    "did_you_mean",
    "explain",
    "format_path",
    "join",
    "load",
    "load_document",
    "parent",
    "parse",
    "parse_text",
    "report_problems",
    "split_path",
    "struct_at",
    "value_at",
]
