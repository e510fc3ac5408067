"""The harness process: runs the hidden tests against the submission, which it sees only through the bridge.

It runs in its own sandbox, beside the learner's: the learner's code cannot reach its memory, frames or
result descriptor, and every value it gets from the submission is an exact built-in type. The result goes
to a descriptor only this process holds.
"""

from __future__ import annotations

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
    try:
        exec(compile(str(job["tests"]), "test_submission.py", "exec"), tests.__dict__)  # noqa: S102
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
            outcomes.append([label, *_run_one(fn, kwargs)])
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
