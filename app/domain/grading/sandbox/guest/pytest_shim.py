"""The ``pytest`` the hidden tests import in the sandbox: what course tests use (mark.parametrize, raises,
approx, fail), without the real pytest, which is not installed there."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from types import TracebackType
from typing import Any


class _Mark:
    def parametrize(self, names: str | list[str], values: Any, ids: Any = None) -> Callable[[Any], Any]:
        def decorate(fn: Any) -> Any:
            fn.__lyceum_params__ = [*getattr(fn, "__lyceum_params__", []), (names, list(values))]
            return fn

        return decorate

    def __getattr__(self, _name: str) -> Any:
        return lambda *a, **k: lambda fn: fn


mark = _Mark()


class raises:
    def __init__(self, expected: type[BaseException] | tuple[type[BaseException], ...], match: str | None = None):
        self.expected, self.match = expected, match
        self.value: BaseException | None = None

    def __enter__(self) -> raises:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> bool:
        if kind is None:
            raise AssertionError(f"DID NOT RAISE {self.expected}")
        if not issubclass(kind, self.expected):
            return False
        if self.match is not None and not re.search(self.match, str(value)):
            raise AssertionError(f"{value!r} does not match {self.match!r}")
        self.value = value
        return True


class approx:
    def __init__(self, expected: float, rel: float = 1e-6, abs: float = 1e-12) -> None:
        self.expected, self.rel, self.abs = expected, rel, abs

    def __eq__(self, other: object) -> bool:
        if type(other) not in (int, float):  # exact types: the bridge delivers the submission's numbers as such
            return False
        return math.isclose(other, self.expected, rel_tol=self.rel, abs_tol=self.abs)  # type: ignore[arg-type]

    def __hash__(self) -> int:
        return hash(self.expected)

    def __repr__(self) -> str:
        return f"approx({self.expected!r})"


def fail(message: str = "") -> None:
    raise AssertionError(message)
