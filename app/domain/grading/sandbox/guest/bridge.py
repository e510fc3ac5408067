"""The bridge between the harness (hidden tests) and the learner's process: plain data by value, the rest by reference.

Why: a test that ran in the learner's interpreter could be forged from inside it (walk the frames to the
harness and write a passing result; return a ``str`` subclass whose ``__eq__`` is always true). Here the
tests run in another process, in another sandbox, and every value the learner's code produces reaches
them as exact built-in types decoded from JSON: ``==`` in a test is always the harness's own comparison.

Messages are length-prefixed JSON objects on a socket both processes inherit:

- request ``{"q": id, "op": ..., "t": target, "n": name, "a": [args], "k": {kwargs}}``
- reply ``{"r": id, "v": value, "b": {arg: value}}`` or ``{"r": id, "e": exception}``

A side may call back while it waits for a reply (the learner's code calls a clock the test passed in), so
each side serves requests until the reply it waits for arrives. Both sides run the same code; the
harness additionally refuses the learner's process any look at its own internals (underscore names,
frames, generators' and functions' internals, modules, ``eval``-like built-ins): the only objects the
learner's code can touch are those the tests handed it, and only through their public surface.
"""

from __future__ import annotations

import base64
import builtins
import datetime
import decimal
import fractions
import json
import os
import struct
import types
from collections.abc import Callable
from typing import Any

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 100
_HEADER = struct.Struct(">I")

# Exact types that cross by value. Subclasses cross as their base (a str subclass arrives as a str).
_PLAIN_BASES: tuple[type, ...] = (bool, int, float, str, bytes, bytearray, tuple, list, dict, set, frozenset)
# What the learner's process may never obtain from the harness, even by reference.
_NEVER_EXPORTED: tuple[type, ...] = (
    types.FrameType,
    types.TracebackType,
    types.CodeType,
    types.ModuleType,
    types.CellType,
)
_NEVER_EXPORTED_BUILTINS = frozenset(
    id(getattr(builtins, name))
    for name in (
        "eval", "exec", "compile", "getattr", "setattr", "delattr", "vars", "globals", "locals", "open",
        "__import__", "breakpoint", "input", "help", "memoryview", "super", "type", "object",
    )
    if hasattr(builtins, name)  # help() exists only with the site module
)  # fmt: skip
_MUTABLE = (list, dict, set, bytearray)  # arguments whose changes by the callee are copied back
# Attribute prefixes that lead to a process's internals: frames, code, generator and coroutine state.
_INTERNAL_PREFIXES = ("_", "gi_", "cr_", "ag_", "f_", "tb_", "co_")


class BridgeClosed(Exception):
    """The other process went away: it exited, crashed, or was stopped at a limit."""


class BridgeError(Exception):
    """The other process sent something that is not a valid message; the bridge is no longer usable."""


def _plain_copy(base: type, value: Any) -> Any:
    """An exact built-in copy of a subclass instance, made without calling methods the subclass overrides."""
    if base is str:
        return str.__str__(value)
    if base is int:
        return int.__int__(value)
    if base is float:
        return float.__float__(value)
    if base is bytes:
        return bytes.__getitem__(value, slice(None))
    if base is tuple:
        return tuple.__getitem__(value, slice(None))
    if base is list:
        return list.__getitem__(value, slice(None))
    if base is dict:
        return {k: dict.__getitem__(value, k) for k in dict.keys(value)}
    if base is set:
        return set(set.__iter__(value))
    if base is frozenset:
        return frozenset(frozenset.__iter__(value))
    return bytearray(bytearray.__getitem__(value, slice(None)))


class Proxy:
    """An object that lives in the other process. Operations go over the bridge; values come back by value."""

    __slots__ = ("__weakref__", "_lyceum_bridge", "_lyceum_ref")

    def __init__(self, bridge: Bridge, ref: int) -> None:
        object.__setattr__(self, "_lyceum_bridge", bridge)
        object.__setattr__(self, "_lyceum_ref", ref)

    def _lyceum(self, op: str, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
        return self._lyceum_bridge.request(op, self._lyceum_ref, name, list(args), kwargs)

    def __getattr__(self, name: str) -> Any:
        return self._lyceum("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._lyceum("setattr", value, name=name)

    def __delattr__(self, name: str) -> None:
        self._lyceum("delattr", name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._lyceum_bridge.request("call", self._lyceum_ref, None, list(args), kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._lyceum("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._lyceum("setitem", key, value)

    def __delitem__(self, key: Any) -> None:
        self._lyceum("delitem", key)

    def __len__(self) -> int:
        length = self._lyceum("len")
        if type(length) is not int:
            raise TypeError("len() of the other side's object is not an integer")
        return length

    def __iter__(self) -> Any:
        return self._lyceum("iter")

    def __next__(self) -> Any:
        return self._lyceum("next")

    def __bool__(self) -> bool:
        truth = self._lyceum("bool")
        if type(truth) is not bool:
            raise TypeError("the other side's truth value is not a bool")
        return truth

    def __repr__(self) -> str:
        text = self._lyceum("repr")
        return text if type(text) is str else "<object of the other process>"

    def __str__(self) -> str:
        text = self._lyceum("str")
        return text if type(text) is str else "<object of the other process>"

    # Comparisons are delegated only between two objects of the same other process (the learner's own
    # classes compare as they define). Against this side's data the answer is identity: the learner's
    # object never decides whether it equals an expected value it was shown.
    def _lyceum_compare(self, op: str, other: Any) -> Any:
        if isinstance(other, Proxy) and other._lyceum_bridge is self._lyceum_bridge:
            result = self._lyceum(op, other)
            if type(result) is not bool:
                raise TypeError("the other side's comparison did not return a bool")
            return result
        if op in ("eq", "ne"):
            return NotImplemented
        raise TypeError("objects of the submission can only be ordered against each other")

    def __eq__(self, other: object) -> Any:
        return self._lyceum_compare("eq", other)

    def __ne__(self, other: object) -> Any:
        return self._lyceum_compare("ne", other)

    def __lt__(self, other: Any) -> Any:
        return self._lyceum_compare("lt", other)

    def __le__(self, other: Any) -> Any:
        return self._lyceum_compare("le", other)

    def __gt__(self, other: Any) -> Any:
        return self._lyceum_compare("gt", other)

    def __ge__(self, other: Any) -> Any:
        return self._lyceum_compare("ge", other)

    def __hash__(self) -> int:
        return hash((id(self._lyceum_bridge), self._lyceum_ref))

    # A copy would duplicate the bridge itself; the other process's object is shared instead.
    def __copy__(self) -> Proxy:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Proxy:
        return self


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


class Bridge:
    """One end of the bridge. ``guarded``: the other side may touch only the public surface of what it is given."""

    def __init__(self, fd: int, *, guarded: bool) -> None:
        self._fd = fd
        self._guarded = guarded
        self._exported: dict[int, Any] = {}  # our objects the other side holds references to
        self._export_ids: dict[int, int] = {}  # id(object) -> reference
        self._proxies: dict[int, Proxy] = {}  # the other side's objects we hold
        self._exc_classes: dict[int, type[BaseException]] = {}  # their exception class -> our stand-in
        self._exc_origins: dict[type[BaseException], int] = {}  # our stand-in -> their reference
        self._next_call = 0
        self._broken: BaseException | None = None

    # --- wire -------------------------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
        if len(data) > MAX_MESSAGE_BYTES:
            raise ValueError(f"the value is too large to pass between processes ({len(data)} bytes)")
        payload = _HEADER.pack(len(data)) + data
        view = memoryview(payload)
        while view:
            try:
                written = os.write(self._fd, view)
            except OSError as exc:
                raise self._break(BridgeClosed("the other process has gone away")) from exc
            view = view[written:]

    def receive(self) -> dict[str, Any]:
        if self._broken is not None:
            raise self._broken
        header = self._read_exactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        if size > MAX_MESSAGE_BYTES:
            raise self._break(BridgeError(f"a message of {size} bytes is over the {MAX_MESSAGE_BYTES}-byte limit"))
        body = self._read_exactly(size)
        try:
            message = json.loads(body.decode("utf-8", "surrogatepass"))
        except (ValueError, RecursionError) as exc:
            raise self._break(BridgeError("a message is not valid JSON")) from exc
        if type(message) is not dict:
            raise self._break(BridgeError("a message is not a JSON object"))
        return message

    def _read_exactly(self, size: int) -> bytes:
        chunks, remaining = [], size
        while remaining:
            try:
                chunk = os.read(self._fd, min(remaining, 1 << 20))
            except OSError as exc:
                raise self._break(BridgeClosed("the other process has gone away")) from exc
            if not chunk:
                raise self._break(BridgeClosed("the other process has gone away"))
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _break(self, error: BaseException) -> BaseException:
        self._broken = self._broken or error
        return error

    # --- calls ------------------------------------------------------------------------------------------
    def request(self, op: str, target: int, name: str | None, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Ask the other side to perform ``op`` on its object ``target``; serve its callbacks meanwhile."""
        self._next_call += 1
        call = self._next_call
        message: dict[str, Any] = {"q": call, "op": op, "t": target}
        if name is not None:
            message["n"] = name
        if args:
            message["a"] = [self.encode(a) for a in args]
        if kwargs:
            message["k"] = {str(k): self.encode(v) for k, v in kwargs.items()}
        self.send(message)
        reply = self.serve(until=call)
        assert reply is not None
        if "e" in reply:
            raise self.decode_exception(reply["e"])
        if op == "call" and type(reply.get("b")) is dict:
            self._copy_back(reply["b"], args, kwargs)
        return self.decode(reply.get("v"))

    def serve(self, until: int | None = None) -> dict[str, Any] | None:
        """Answer requests until the reply to call ``until`` arrives (or, with None, until the other side leaves)."""
        while True:
            try:
                message = self.receive()
            except BridgeClosed:
                if until is None:
                    return None
                raise
            if "q" in message:
                self.send(self._answer(message))
                continue
            if until is not None and message.get("r") == until:
                return message
            raise self._break(BridgeError("a reply arrived for a call that was not made"))

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        call = request.get("q")
        try:
            value, back = self._perform(request)
            reply: dict[str, Any] = {"r": call, "v": self.encode(value)}
            if back:
                reply["b"] = back
            return reply
        except (BridgeClosed, BridgeError):
            raise
        except BaseException as exc:  # the other side's call failed here: it gets the exception, we go on
            try:
                return {"r": call, "e": self.encode_exception(exc)}
            except BaseException:  # an exception that cannot even be described (MemoryError, a bad __str__)
                return {"r": call, "e": {"class": [{"builtin": "RuntimeError"}], "args": ["the call failed"]}}

    def _perform(self, request: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        op, name = request.get("op"), request.get("n")
        target_ref = request.get("t")
        if type(target_ref) is not int or target_ref not in self._exported:
            raise LookupError("no such object")
        target = self._exported[target_ref]
        if name is not None and (type(name) is not str or (self._guarded and name.startswith(_INTERNAL_PREFIXES))):
            raise AttributeError(f"{name!r} is not available to the submission")
        raw_args = request.get("a", [])
        raw_kwargs = request.get("k", {})
        if type(raw_args) is not list or type(raw_kwargs) is not dict:
            raise TypeError("malformed arguments")
        args = [self.decode(a) for a in raw_args]
        kwargs = {str(k): self.decode(v) for k, v in raw_kwargs.items()}
        if op == "call":
            result = target(*args, **kwargs)
            back = {str(i): self.encode(a) for i, a in enumerate(args) if type(a) in _MUTABLE}
            back.update({f"k:{k}": self.encode(v) for k, v in kwargs.items() if type(v) in _MUTABLE})
            return result, back
        if op == "getattr":
            return getattr(target, str(name)), {}
        if op == "setattr":
            setattr(target, str(name), args[0])
            return None, {}
        if op == "delattr":
            delattr(target, str(name))
            return None, {}
        simple: dict[str, Callable[[], Any]] = {
            "getitem": lambda: target[args[0]],
            "len": lambda: len(target),
            "iter": lambda: iter(target),
            "next": lambda: next(target),
            "bool": lambda: bool(target),
            "repr": lambda: repr(target),
            "str": lambda: str(target),
        }
        if op in simple:
            return simple[op](), {}
        if op == "setitem":
            target[args[0]] = args[1]
            return None, {}
        if op == "delitem":
            del target[args[0]]
            return None, {}
        if op in _COMPARISONS and len(args) == 1:
            return bool(_COMPARISONS[op](target, args[0])), {}
        raise TypeError(f"unknown operation {op!r}")

    def _copy_back(self, back: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> None:
        """A mutable argument the callee changed is changed here too (top level only: nested identity is lost)."""
        for key, raw in back.items():
            original: Any
            if key.startswith("k:"):
                original = kwargs.get(key[2:])
            elif key.isdigit() and int(key) < len(args):
                original = args[int(key)]
            else:
                continue
            new = self.decode(raw)
            if type(original) is not type(new):
                continue
            if type(original) is list or type(original) is bytearray:
                original[:] = new
            elif type(original) is dict or type(original) is set:
                original.clear()
                original.update(new)

    # --- values -----------------------------------------------------------------------------------------
    def export(self, value: Any) -> int:
        if self._guarded and (isinstance(value, _NEVER_EXPORTED) or id(value) in _NEVER_EXPORTED_BUILTINS):
            raise TypeError(f"a {type(value).__name__} cannot be passed to the submission")
        ref = self._export_ids.get(id(value))
        if ref is None or self._exported.get(ref) is not value:
            ref = len(self._exported) + 1
            self._exported[ref] = value
            self._export_ids[id(value)] = ref
        return ref

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError("the value is nested too deeply to pass between processes")
        kind = type(value)
        if value is None or kind is bool or kind is int or kind is str or kind is float:
            return value
        if kind is list:
            return [self.encode(v, depth + 1) for v in value]
        if kind is tuple:
            return {"$tuple": [self.encode(v, depth + 1) for v in value]}
        if kind is dict:
            return {"$dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if kind is set or kind is frozenset:
            return {f"${kind.__name__}": [self.encode(v, depth + 1) for v in value]}
        if kind is bytes or kind is bytearray:
            return {f"${kind.__name__}": base64.b64encode(value).decode()}
        if kind is complex:
            return {"$complex": [value.real, value.imag]}
        if kind is decimal.Decimal:
            return {"$decimal": str(value)}
        if kind is fractions.Fraction:
            return {"$fraction": [value.numerator, value.denominator]}
        if kind is range:
            return {"$range": [value.start, value.stop, value.step]}
        if kind is datetime.timedelta:
            return {"$timedelta": [value.days, value.seconds, value.microseconds]}
        if kind in (datetime.datetime, datetime.date, datetime.time) and (
            kind is datetime.date or value.tzinfo is None or isinstance(value.tzinfo, datetime.timezone)
        ):
            return {f"${kind.__name__}": value.isoformat()}
        if isinstance(value, Proxy) and value._lyceum_bridge is self:
            return {"$yours": value._lyceum_ref}
        if isinstance(value, type) and issubclass(value, BaseException):
            if value in self._exc_origins:
                return {"$yours": self._exc_origins[value]}
            return {"$exception_class": self._class_chain(value)}
        for base in _PLAIN_BASES:
            if isinstance(value, base):
                return self.encode(_plain_copy(base, value), depth)
        return {"$ref": self.export(value)}

    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self._break(BridgeError("a value is nested too deeply"))
        kind = type(data)
        if data is None or kind is bool or kind is int or kind is str or kind is float:
            return data
        if kind is list:
            return [self.decode(v, depth + 1) for v in data]
        if kind is not dict or len(data) != 1:
            raise self._break(BridgeError("a value is not in the bridge's format"))
        ((tag, body),) = data.items()
        try:
            return self._decode_tagged(tag, body, depth)
        except (BridgeError, BridgeClosed):
            raise
        except (TypeError, ValueError, KeyError, IndexError, OverflowError, decimal.InvalidOperation) as exc:
            raise self._break(BridgeError(f"a {tag} value is malformed")) from exc

    def _decode_tagged(self, tag: str, body: Any, depth: int) -> Any:
        def items() -> list[Any]:
            if type(body) is not list:
                raise TypeError(tag)
            return [self.decode(v, depth + 1) for v in body]

        if tag == "$tuple":
            return tuple(items())
        if tag == "$dict":
            pairs = items()
            if not all(type(p) is list and len(p) == 2 for p in pairs):
                raise TypeError(tag)
            return {k: v for k, v in pairs}
        if tag == "$set":
            return set(items())
        if tag == "$frozenset":
            return frozenset(items())
        if tag in ("$bytes", "$bytearray"):
            if type(body) is not str:
                raise TypeError(tag)
            raw = base64.b64decode(body, validate=True)
            return raw if tag == "$bytes" else bytearray(raw)
        if tag == "$complex":
            real, imag = items()
            return complex(float(real), float(imag))
        if tag == "$decimal" and type(body) is str:
            return decimal.Decimal(body)
        if tag == "$fraction":
            numerator, denominator = items()
            if type(numerator) is not int or type(denominator) is not int:
                raise TypeError(tag)
            return fractions.Fraction(numerator, denominator)
        if tag == "$range":
            start, stop, step = items()
            return range(int(start), int(stop), int(step))
        if tag == "$timedelta":
            days, seconds, micro = items()
            return datetime.timedelta(days=int(days), seconds=int(seconds), microseconds=int(micro))
        if tag in ("$datetime", "$date", "$time") and type(body) is str:
            parse: Any = {"$datetime": datetime.datetime, "$date": datetime.date, "$time": datetime.time}[tag]
            return parse.fromisoformat(body)
        if tag == "$ref" and type(body) is int:
            proxy = self._proxies.get(body)
            if proxy is None:
                proxy = self._proxies[body] = Proxy(self, body)
            return proxy
        if tag == "$yours" and type(body) is int:
            return self._exported[body]
        if tag == "$exception_class":
            return self._exception_class(body)
        raise TypeError(tag)

    # --- exceptions -------------------------------------------------------------------------------------
    def _class_chain(self, cls: type[BaseException]) -> list[dict[str, Any]]:
        """The class and its ancestors up to the first built-in exception: enough for ``except``/``raises``."""
        chain: list[dict[str, Any]] = []
        for klass in cls.__mro__:
            if klass is object:
                break
            if klass.__module__ == "builtins" and getattr(builtins, klass.__name__, None) is klass:
                chain.append({"builtin": klass.__name__})
                return chain
            chain.append({"ref": self.export(klass), "name": str(klass.__qualname__)[:200]})
        chain.append({"builtin": "Exception"})
        return chain

    def _exception_class(self, chain: Any) -> type[BaseException]:
        if type(chain) is not list or not chain or type(chain[-1]) is not dict:
            raise TypeError("exception class")
        base = getattr(builtins, str(chain[-1].get("builtin")), None)
        if not (isinstance(base, type) and issubclass(base, BaseException)):
            raise TypeError("exception class")
        cls: type[BaseException] = base
        for entry in reversed(chain[:-1]):
            if type(entry) is not dict or type(entry.get("ref")) is not int or type(entry.get("name")) is not str:
                raise TypeError("exception class")
            ref = entry["ref"]
            known = self._exc_classes.get(ref)
            if known is None:
                name = entry["name"].rpartition(".")[2] or "SubmissionError"
                known = types.new_class(name, (cls,), {}, lambda ns: ns.update({"__module__": "submission"}))
                self._exc_classes[ref] = known
                self._exc_origins[known] = ref
            cls = known
        return cls

    def encode_exception(self, exc: BaseException) -> dict[str, Any]:
        try:
            args = [self.encode(a) for a in exc.args]
        except Exception:
            args = [_describe(exc)]
        return {"class": self._class_chain(type(exc)), "args": args}

    def decode_exception(self, data: Any) -> BaseException:
        if type(data) is not dict:
            raise self._break(BridgeError("an exception is not in the bridge's format"))
        try:
            cls = self._exception_class(data.get("class"))
            raw_args = data.get("args", [])
            args = [self.decode(a) for a in raw_args] if type(raw_args) is list else []
        except (TypeError, ValueError) as exc:
            raise self._break(BridgeError("an exception is not in the bridge's format")) from exc
        try:
            return cls(*args)
        except Exception:  # a class whose constructor wants other arguments (UnicodeDecodeError...)
            error = cls.__new__(cls)
            error.args = tuple(args)
            return error


def _describe(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"[:500]
    except Exception:
        return type(exc).__name__
