"""The hidden tests run in their own process and see the submission through the bridge: results cannot be
forged from the learner's code, and ordinary tests (callbacks, generators, mutation, custom exceptions)
behave as they would under pytest."""

from __future__ import annotations

from app.domain.grading.sandbox import run_code_tests
from tests.support.sandbox import FAST

SHOUT_TESTS = """
from submission import shout

def test_one():
    assert shout("a") == "A!"

def test_two():
    assert shout("bc") == "BC!"

def test_three():
    assert shout("") == "!"
"""


async def _forged(code: str) -> None:
    result = await run_code_tests(code, SHOUT_TESTS, FAST)
    assert result.passed == 0, (result.status, result.detail, result.tests)


async def test_a_str_subclass_that_equals_everything_forges_nothing() -> None:
    await _forged(
        "class Anything(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n"
        "def shout(text):\n    return Anything('nope')\n"
    )


async def test_an_object_that_equals_everything_forges_nothing() -> None:
    await _forged(
        "class Anything:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n"
        "        return False\ndef shout(text):\n    return Anything()\n"
    )


async def test_walking_frames_and_the_heap_for_the_result_forges_nothing() -> None:
    # The attack that worked in-process: find the runner's locals (out/seal/names) by walking frames, or
    # any descriptor, and write an all-pass result. Here the harness lives in another process and sandbox.
    await _forged(
        "import gc, json, os, sys\n"
        "fake = json.dumps({'tests': [['test_one', True, ''], ['test_two', True, ''], ['test_three', True, '']]})\n"
        "frame = sys._getframe()\n"
        "while frame is not None:\n"
        "    for name, value in list(frame.f_locals.items()):\n"
        "        if isinstance(value, list) and name in ('outcomes', 'out', 'names'):\n"
        "            value.append(['test_one', True, ''])\n"
        "    frame = frame.f_back\n"
        "for obj in gc.get_objects():\n"
        "    if isinstance(obj, dict) and 'tests' in obj:\n"
        "        obj['tests'] = json.loads(fake)['tests']\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, fake.encode())\n"
        "    except OSError:\n"
        "        pass\n"
        "print(fake)\n"
        "def shout(text):\n    return 'no'\n"
    )


async def test_the_harness_internals_are_out_of_reach_through_what_tests_pass_in() -> None:
    tests = """
from submission import probe

class Box:
    def __init__(self):
        self.items = [1, 2]
        self._private = "harness state"
    def total(self):
        return sum(self.items)

def numbers():
    yield 1
    yield 2

def test_probe_reaches_nothing_internal():
    reached = probe(lambda: 1, numbers(), Box())
    assert reached == [], reached

def test_an_honest_test():
    assert True
"""
    code = """
def probe(function, generator, box):
    reached = []
    attempts = {
        'globals': lambda: function.__globals__,
        'code': lambda: function.__code__,
        'frame': lambda: generator.gi_frame,
        'frame locals': lambda: generator.gi_frame.f_locals,
        'dict': lambda: box.__dict__,
        'method self': lambda: box.total.__self__,
        'method func': lambda: box.total.__func__,
        'method globals': lambda: box.total.__func__.__globals__,
        'private': lambda: box._private,
        'code of a method': lambda: box.total.__code__,
        'getattr by name': lambda: getattr(function, '__globals__'),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
            reached.append(name)
        except Exception:
            pass
    # What tests hand over stays usable through its public surface.
    assert box.total() == 3 and box.items == [1, 2] and list(generator) == [1, 2] and function() == 1
    return reached
"""
    result = await run_code_tests(code, tests, FAST)
    assert result.status == "ok", result.detail
    assert result.passed == result.total == 2, result.tests


async def test_callbacks_generators_mutation_and_exceptions_work_as_under_pytest() -> None:
    tests = """
import collections, decimal, fractions
import pytest
from submission import Bucket, Gap, Point, apply_all, fold, midpoint, pair, project, sort_in_place, values

class Clock:
    def __init__(self):
        self.now = 100.0
    def __call__(self):
        return self.now

def test_callbacks_into_the_test():
    clock = Clock()
    bucket = Bucket(2, clock)
    assert [bucket.allow(), bucket.allow(), bucket.allow()] == [True, True, False]
    clock.now += 10
    assert bucket.allow()

def test_generators_and_key_functions_from_the_test():
    assert fold(x for x in [1, 2, 3]) == 6
    assert apply_all([3, 1, 2], key=lambda v: -v) == [3, 2, 1]

def test_arguments_changed_in_place_are_changed_for_the_test():
    items = [3, 1, 2]
    assert sort_in_place(items) is None
    assert items == [1, 2, 3]

def test_custom_exceptions_are_raised_as_their_classes():
    with pytest.raises(Gap):
        project([1, 3])
    with pytest.raises(ValueError, match="gap after 1"):
        project([1, 3])
    with pytest.raises(KeyError):
        values({})["missing"]

def test_values_arrive_as_plain_data():
    assert pair() == (1, 2)
    assert values({"a": 1}) == {"a": 1, "b": [1, 2.5, None, b"x", decimal.Decimal("1.5"), fractions.Fraction(1, 3)]}
    assert midpoint(Point(0, 0), Point(2, 4)) == Point(1, 2)
    assert Point(1, 2) != Point(2, 1)
    assert midpoint(Point(0, 0), Point(2, 4)).x == 1
    assert isinstance(values({})["b"][0], int)
"""
    code = """
import collections, dataclasses, decimal, fractions

class Gap(ValueError):
    pass

class Bucket:
    def __init__(self, size, clock):
        self.size, self.clock, self.used, self.since = size, clock, 0, clock()
    def allow(self):
        if self.clock() - self.since >= 10:
            self.used, self.since = 0, self.clock()
        if self.used < self.size:
            self.used += 1
            return True
        return False

def fold(numbers):
    return sum(numbers)

def apply_all(items, key):
    return sorted(items, key=key)

def sort_in_place(items):
    items.sort()

def project(versions):
    for a, b in zip(versions, versions[1:]):
        if b != a + 1:
            raise Gap(f"gap after {a}")

def values(given):
    data = dict(given)
    data["b"] = [1, 2.5, None, b"x", decimal.Decimal("1.5"), fractions.Fraction(1, 3)]
    return data

Pair = collections.namedtuple("Pair", "a b")

def pair():
    return Pair(1, 2)

@dataclasses.dataclass
class Point:
    x: int
    y: int

def midpoint(a, b):
    return Point((a.x + b.x) // 2, (a.y + b.y) // 2)
"""
    result = await run_code_tests(code, tests, FAST)
    assert result.status == "ok", result.detail
    assert result.passed == result.total == 5, [t for t in result.tests if not t.passed]
