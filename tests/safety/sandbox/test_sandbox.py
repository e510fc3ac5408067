"""The code sandbox grades correctly and stops what it must: loops, sleeps, memory, floods; it fails closed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from app.domain.grading.sandbox import SandboxLimits, SandboxPolicy, SandboxUnavailable, run_code_tests
from tests.support.sandbox import FAST, descendants, nothing_left_running

ROOT = Path(__file__).resolve().parents[3]
SHORT = SandboxLimits(cpu_seconds=1, wall_seconds=3)  # for runs that are meant to hit a limit
TESTS = """
import pytest
from submission import add

def test_adds():
    assert add(2, 3) == 5

@pytest.mark.parametrize("a, b, total", [(1, 1, 2), (0, 0, 0), (-1, 1, 0)])
def test_table(a, b, total):
    assert add(a, b) == total

def test_raises():
    with pytest.raises(TypeError):
        add("a", 1)
"""
ADD = "def add(a, b):\n    return a + b\n"


def _code_tasks() -> list[tuple[str, dict[str, Any]]]:
    tasks = []
    for path in sorted((ROOT / "content/courses").glob("*.yaml")):
        course = msgspec.yaml.decode(path.read_bytes())
        for module in course["modules"]:
            for item in module["items"]:
                spec = item.get("assessment") or {}
                if spec.get("type") == "code":
                    tasks.append((f"{path.stem}/{item['slug']}", spec))
    return tasks


async def test_a_correct_solution_passes_every_test() -> None:
    result = await run_code_tests(ADD, TESTS, FAST)
    assert result.status == "ok", result.detail
    assert (result.passed, result.total) == (5, 5)
    assert result.isolation == "isolated"


@pytest.mark.parametrize(("name", "spec"), _code_tasks(), ids=[name for name, _ in _code_tasks()])
async def test_every_course_code_task_grades_its_reference_and_starter_as_pytest_would(
    name: str, spec: dict[str, Any]
) -> None:
    """The hidden tests see the submission only through the bridge; course tests must still work unchanged."""
    limits = SandboxLimits(cpu_seconds=spec.get("time_limit_seconds", 5), wall_seconds=60)
    reference = await run_code_tests(spec["reference_solution"], spec["hidden_tests"], limits)
    assert reference.status == "ok", (name, reference.detail)
    assert reference.passed == reference.total > 3, [t for t in reference.tests if not t.passed]
    starter = await run_code_tests(spec["starter_code"], spec["hidden_tests"], limits)
    assert starter.passed < starter.total, name


async def test_wrong_code_fails_with_messages_and_syntax_errors_crash() -> None:
    wrong = await run_code_tests("def add(a, b):\n    return a - b\n", TESTS, FAST)
    assert wrong.status == "ok"
    assert wrong.passed < wrong.total
    assert any("AssertionError" in t.message for t in wrong.tests)
    broken = await run_code_tests("def add(a, b)\n    return a\n", TESTS, FAST)
    assert broken.status == "crashed"
    assert "SyntaxError" in broken.detail
    missing = await run_code_tests("def plus(a, b):\n    return a + b\n", TESTS, FAST)
    assert missing.status == "crashed"
    assert "add" in missing.detail


async def test_infinite_loops_and_sleeps_time_out_and_leave_nothing() -> None:
    before = descendants()
    spin = await run_code_tests("while True:\n    pass\n", TESTS, SHORT)
    assert spin.status == "timeout"
    spin_in_call = await run_code_tests("def add(a, b):\n    while True:\n        pass\n", TESTS, SHORT)
    assert spin_in_call.status == "timeout"
    nap = await run_code_tests("import time\ntime.sleep(600)\n", TESTS, SHORT)
    assert nap.status == "timeout"
    chatty = await run_code_tests(
        "import time\nprint('started')\ntime.sleep(600)\n", TESTS, SandboxLimits(cpu_seconds=1, wall_seconds=8)
    )
    assert chatty.status == "timeout"
    assert "started" in chatty.stdout  # what was printed before the deadline is kept
    await nothing_left_running(before)


async def test_memory_bombs_are_contained() -> None:
    bomb = await run_code_tests("x = ' ' * (10 ** 10)\n", TESTS, FAST)
    assert bomb.status == "memory", bomb
    grow = "def add(a, b):\n    data = []\n    while True:\n        data.append(' ' * 10**6)\n"
    assert (await run_code_tests(grow, TESTS, FAST)).status == "memory"


async def test_output_floods_are_cut_off() -> None:
    result = await run_code_tests("while True:\n    print('x' * 1000)\n", TESTS, FAST)
    assert result.status == "output_limit"
    assert len(result.stdout) <= FAST.output_bytes


async def test_broken_hidden_tests_are_an_error_not_a_crash() -> None:
    result = await run_code_tests(ADD, "def test_x(:\n    pass\n", FAST)
    assert result.status == "error"
    assert "hidden tests" in result.detail
    none = await run_code_tests(ADD, "def helper():\n    pass\n", FAST)
    assert none.status == "error"


async def test_concurrent_runs_stay_separate() -> None:
    results = await asyncio.gather(
        *(run_code_tests(f"def add(a, b):\n    return a + b + {i % 2}\n", TESTS, FAST) for i in range(8))
    )
    assert {(r.status, r.total) for r in results} == {("ok", 5)}
    assert [r.passed == r.total for r in results] == [i % 2 == 0 for i in range(8)]


async def test_without_bubblewrap_code_grading_fails_closed() -> None:
    missing = SandboxPolicy(bwrap="/nonexistent/bwrap")
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        await run_code_tests(ADD, TESTS, FAST, missing)
    # Only an explicit development setting runs it anyway, unisolated, and says so on the result.
    unsafe = await run_code_tests(ADD, TESTS, FAST, SandboxPolicy(bwrap="/nonexistent/bwrap", allow_unsafe=True))
    assert (unsafe.status, unsafe.passed, unsafe.isolation) == ("ok", 5, "unsafe")


async def test_failures_say_what_was_compared_apart_from_the_message() -> None:
    """check50-style details (assertion, expected, actual, parameters) for staff; the message stays as raised."""
    tests = TESTS.replace("assert add(a, b) == total", 'assert add(a, b) == total, "tables"')
    result = await run_code_tests("def add(a, b):\n    return a - b\n", tests, FAST)
    adds = next(t for t in result.tests if t.name == "test_adds")
    assert (adds.assertion, adds.expected, adds.actual) == ("add(2, 3) == 5", "5", "-1")
    assert adds.message == "AssertionError: "  # no values in what learners see of hidden tests
    case = next(t for t in result.tests if t.name == "test_table[0]")
    assert (case.message, case.expected, case.actual) == ("AssertionError: tables", "2", "0")
    assert case.params == "{'a': 1, 'b': 1, 'total': 2}"
    assert next(t for t in result.tests if t.name == "test_table[1]").expected == ""  # passed: nothing to explain
