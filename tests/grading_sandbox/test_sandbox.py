"""The code sandbox contains what learners' code may try: loops, bombs, floods, escapes, forgeries."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import msgspec
import pytest

from app.domain.grading.sandbox import SandboxLimits, run_code_tests

ROOT = Path(__file__).resolve().parents[2]
FAST = SandboxLimits(cpu_seconds=2, wall_seconds=4, memory_mb=256, output_bytes=20_000)
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


def _course_code_task() -> dict[str, str]:
    course = msgspec.yaml.decode((ROOT / "content/courses/backend-foundations.yaml").read_bytes())
    items = [i for m in course["modules"] for i in m["items"]]
    spec: dict[str, str] = next(i["assessment"] for i in items if i.get("assessment", {}).get("type") == "code")
    return spec


async def test_a_correct_solution_passes_every_test() -> None:
    result = await run_code_tests("def add(a, b):\n    return a + b\n", TESTS, FAST)
    assert result.status == "ok", result.detail
    assert (result.passed, result.total) == (5, 5)


async def test_the_course_reference_solution_passes_its_hidden_tests() -> None:
    spec = _course_code_task()
    result = await run_code_tests(spec["reference_solution"], spec["hidden_tests"])
    assert result.status == "ok", result.detail
    assert result.passed == result.total > 3, [t for t in result.tests if not t.passed]
    starter = await run_code_tests(spec["starter_code"], spec["hidden_tests"])
    assert starter.passed < starter.total


async def test_wrong_code_fails_with_messages_and_syntax_errors_crash() -> None:
    wrong = await run_code_tests("def add(a, b):\n    return a - b\n", TESTS, FAST)
    assert wrong.status == "ok"
    assert wrong.passed < wrong.total
    assert any("AssertionError" in t.message for t in wrong.tests)
    broken = await run_code_tests("def add(a, b)\n    return a\n", TESTS, FAST)
    assert broken.status == "crashed"
    assert "SyntaxError" in broken.detail


async def test_infinite_loops_and_sleeps_time_out() -> None:
    spin = await run_code_tests("while True:\n    pass\n", TESTS, FAST)
    assert spin.status == "timeout"
    nap = await run_code_tests("import time\ntime.sleep(60)\n", TESTS, FAST)
    assert nap.status == "timeout"
    assert nap.duration_ms < 30_000


async def test_memory_bombs_are_contained() -> None:
    bomb = await run_code_tests("x = ' ' * (10 ** 10)\n", TESTS, FAST)
    assert bomb.status in ("memory", "crashed")
    assert "MemoryError" in bomb.detail or bomb.status == "memory"
    grow = "def add(a, b):\n    data = []\n    while True:\n        data.append(' ' * 10**6)\n"
    assert (await run_code_tests(grow, TESTS, FAST)).status in ("memory", "ok")


def _sandbox_processes() -> int:
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"lyceum-sandbox-" in Path(f"/proc/{pid}/cmdline").read_bytes():
                count += 1
        except OSError:
            continue
    return count


async def test_fork_bombs_and_subprocesses_are_refused_and_leave_nothing() -> None:
    before = _sandbox_processes()
    for code in (
        "import os\nwhile True:\n    os.fork()\n",
        "import subprocess\nsubprocess.run(['sh', '-c', ':(){ :|:& };:'])\n",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()\n",
        "import os\nos.system('echo escaped')\n",
    ):
        result = await run_code_tests(code, TESTS, FAST)
        assert result.status == "crashed", (code, result)
        assert "not allowed in the sandbox" in result.detail
    await asyncio.sleep(0.2)
    assert _sandbox_processes() == before


async def test_output_floods_are_cut_off() -> None:
    result = await run_code_tests("while True:\n    print('x' * 1000)\n", TESTS, FAST)
    assert result.status == "output_limit"
    assert len(result.stdout) <= FAST.output_bytes


async def test_files_outside_the_sandbox_secrets_and_the_network_are_out_of_reach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LYCEUM_SECRET_KEY", "never-visible-in-the-sandbox-0123456789")
    probes = {
        "passwd": "open('/etc/passwd').read()",
        "repo": f"open({str(ROOT / 'pyproject.toml')!r}).read()",
        "parent": "open('../x', 'w').write('x')",
        "socket": "import socket\nsocket.create_connection(('127.0.0.1', 6379), timeout=1)",
    }
    for name, probe in probes.items():
        result = await run_code_tests(probe + "\n", TESTS, FAST)
        assert result.status == "crashed", name
        assert "not allowed in the sandbox" in result.detail, (name, result.detail)
    env = await run_code_tests(
        "import os\ndef add(a, b):\n    assert 'LYCEUM_SECRET_KEY' not in os.environ\n    return a + b\n", TESTS, FAST
    )
    assert env.passed == env.total


async def test_printing_a_fake_result_changes_nothing() -> None:
    forged = 'print(\'{"tests": [["test_adds", true, ""]]}\')\ndef add(a, b):\n    return 0\n'
    result = await run_code_tests(forged, TESTS, FAST)
    assert result.passed < result.total


async def test_concurrent_runs_stay_separate() -> None:
    results = await asyncio.gather(
        *(run_code_tests(f"def add(a, b):\n    return a + b + {i % 2}\n", TESTS, FAST) for i in range(8))
    )
    assert [r.passed == r.total for r in results] == [i % 2 == 0 for i in range(8)]
