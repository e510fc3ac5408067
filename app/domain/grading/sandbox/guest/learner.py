"""The learner's process: runs ``submission.py`` and answers the harness's requests about it.

Nothing here is trusted by anyone: the learner's code shares this interpreter and may change any of it.
What it cannot change is what the harness accepts (exact built-in values, by the bridge's rules).
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from . import boot
from .bridge import Bridge


def main() -> None:
    job = boot.start()
    bridge = Bridge(int(job["bridge_fd"]), guarded=False)
    hello = _load(str(job["code"]), bridge)
    bridge.send(hello)
    if hello["hello"] == "ready":
        bridge.serve()
    sys.stdout.flush()
    os._exit(0)  # the learner's atexit handlers and threads get no say in how this ends


def _load(code: str, bridge: Bridge) -> dict[str, Any]:
    path = os.path.join(os.getcwd(), "submission.py")
    try:
        with open(path, "w", encoding="utf-8") as file:  # for code that reads its own source
            file.write(code)
    except OSError:
        pass
    module = types.ModuleType("submission")
    module.__file__ = path
    sys.modules["submission"] = module
    sys.path.insert(0, os.getcwd())
    try:
        exec(compile(code, path, "exec"), module.__dict__)  # noqa: S102 - running the learner's code is the point
    except MemoryError:
        return {"hello": "memory", "detail": "MemoryError while loading the submission"}
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return {"hello": "crashed", "detail": f"SyntaxError: {exc.msg}{where}"}
    except BaseException as exc:  # the learner's code may raise anything at import, SystemExit included
        return {"hello": "crashed", "detail": _describe(exc)}
    if "__all__" not in module.__dict__:  # so `from submission import *` in a test sees the public names
        module.__dict__["__all__"] = [name for name in module.__dict__ if not name.startswith("_")]
    try:
        return {"hello": "ready", "module": bridge.encode(module)}
    except Exception as exc:
        return {"hello": "crashed", "detail": _describe(exc)}


def _describe(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"[:2000]
    except Exception:
        return type(exc).__name__
