"""The harness process: runs the hidden tests against the submission, which it sees only through the bridge.

It runs in its own sandbox, beside the learner's: the learner's code cannot reach its memory, frames or
result descriptor, and every value it gets from the submission is an exact built-in type. The result goes
to a descriptor only this process holds.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

from . import boot, pytest_shim
from .bridge import Bridge, BridgeClosed, BridgeError, Proxy

GONE = "the submission's process stopped (it exited, or reached the CPU-time or memory limit)"


def main() -> None:
    job = boot.start()
    result_fd = int(job["result_fd"])
    outcome = _run(job)
    data = json.dumps(outcome).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(result_fd, view) :]
    sys.stdout.flush()
    os._exit(0)


def _run(job: dict[str, Any]) -> dict[str, Any]:
    bridge = Bridge(int(job["bridge_fd"]), guarded=True)
    try:
        hello = bridge.receive()
    except BridgeClosed:
        return {"crashed": GONE}
    except BridgeError as exc:
        return {"crashed": f"the submission's process misbehaved: {exc}"}
    kind = hello.get("hello")
    if kind in ("crashed", "memory"):
        return {kind: str(hello.get("detail", ""))[:2000]}
    try:
        proxy = bridge.decode(hello.get("module"))
    except (BridgeClosed, BridgeError) as exc:
        return {"crashed": f"the submission's process misbehaved: {exc}"}
    if kind != "ready" or not isinstance(proxy, Proxy):
        return {"crashed": "the submission's process misbehaved: no module"}
    sys.modules["submission"] = _remote_module(proxy)
    sys.modules["pytest"] = pytest_shim
    tests = types.ModuleType("test_submission")
    tests.__file__ = "test_submission.py"
    sys.modules["test_submission"] = tests
    notes = _Notes()
    tests.__dict__["__lyceum_note__"] = notes.record
    try:
        exec(compile(_explained(str(job["tests"])), "test_submission.py", "exec"), tests.__dict__)  # noqa: S102
    except BaseException as exc:  # an import the submission lacks, or the submission failing at a call
        kind = "memory" if isinstance(exc, MemoryError) else "crashed"
        return {kind: _describe(exc)}
    outcomes: list[list[Any]] = []
    for name in job["tests_names"]:
        fn = getattr(tests, name, None)
        if not callable(fn):
            outcomes.append([name, False, "the test is not defined"])
            continue
        for label, kwargs in _cases(name, fn):
            notes.last = None
            passed, message = _run_one(fn, kwargs)
            entry: list[Any] = [label, passed, message]
            if not passed:
                detail = dict(notes.last or {})
                if kwargs:
                    detail["params"] = _show(kwargs)
                if detail:
                    entry.append(detail)
            outcomes.append(entry)
    return {"tests": outcomes}


def _run_one(fn: Any, kwargs: dict[str, Any]) -> tuple[bool, str]:
    try:
        returned = fn(**kwargs)
        if hasattr(returned, "close") and hasattr(returned, "send"):
            returned.close()
            raise TypeError("async tests are not supported")
        return True, ""
    except AssertionError as exc:
        return False, ("AssertionError: " + str(exc))[:500]
    except BaseException as exc:  # the submission may raise anything, SystemExit included
        return False, _describe(exc)[:500]


class _Notes:
    """What the last failing ``assert`` compared, for the people who read the result (check50-style).

    Kept apart from the message: the message reaches learners, these details only staff (hidden tests'
    expected values would otherwise give the answers away)."""

    def __init__(self) -> None:
        self.last: dict[str, str] | None = None

    def record(self, text: str, op: str | None, left: Any, right: Any, message: Any = None) -> Any:
        if op is None:
            self.last = {"assertion": text[:300], "actual": _show(left)}
        else:
            self.last = {"assertion": text[:300], "actual": _show(left), "expected": _show(right), "op": op}
        return message if message is not None else ""


_OPS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}  # fmt: skip


def _explained(source: str) -> ast.Module:
    """The tests with every ``assert`` keeping what it compared: ``assert a == b, m`` becomes
    ``assert (L := a) == (R := b), __lyceum_note__("a == b", "==", L, R, m)`` (the note runs only on failure)."""
    tree = ast.parse(source, filename="test_submission.py")

    class Explain(ast.NodeTransformer):
        def visit_Assert(self, node: ast.Assert) -> ast.Assert:
            text = ast.get_source_segment(source, node.test) or ast.unparse(node.test)
            message = node.msg or ast.Constant(None)
            test = node.test
            note = ast.Name("__lyceum_note__", ast.Load())
            if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _OPS:
                left = ast.NamedExpr(ast.Name("__lyceum_left__", ast.Store()), test.left)
                right = ast.NamedExpr(ast.Name("__lyceum_right__", ast.Store()), test.comparators[0])
                new_test: ast.expr = ast.Compare(left, test.ops, [right])
                args = [
                    ast.Constant(text),
                    ast.Constant(_OPS[type(test.ops[0])]),
                    ast.Name("__lyceum_left__", ast.Load()),
                    ast.Name("__lyceum_right__", ast.Load()),
                    message,
                ]
            else:
                new_test = ast.NamedExpr(ast.Name("__lyceum_value__", ast.Store()), test)
                args = [ast.Constant(text), ast.Constant(None), ast.Name("__lyceum_value__", ast.Load())]
                args += [ast.Constant(None), message]
            explained = ast.Assert(new_test, ast.Call(note, args, []))
            return ast.fix_missing_locations(ast.copy_location(explained, node))

    return Explain().visit(tree)  # type: ignore[no-any-return]


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except BaseException:  # a submission object whose process has gone
        text = "<not available>"
    return text if len(text) <= 300 else text[:297] + "..."


def _remote_module(proxy: Proxy) -> types.ModuleType:
    module = types.ModuleType("submission")

    def __getattr__(name: str) -> Any:
        return getattr(proxy, name)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def _cases(name: str, fn: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = [(name, {})]
    for names, values in getattr(fn, "__lyceum_params__", []):
        keys = [k.strip() for k in names.split(",")] if isinstance(names, str) else list(names)
        expanded = []
        for label, kwargs in calls:
            for index, value in enumerate(values):
                args = dict(zip(keys, value if len(keys) > 1 else (value,), strict=False))
                expanded.append((f"{label}[{index}]", {**kwargs, **args}))
        calls = expanded
    yield from calls


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BridgeClosed):
        return GONE
    if isinstance(exc, BridgeError):
        return f"the submission's process misbehaved: {exc}"
    try:
        return f"{type(exc).__name__}: {exc}"[:2000]
    except Exception:
        return type(exc).__name__
