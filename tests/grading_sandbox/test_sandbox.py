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
SHORT = SandboxLimits(cpu_seconds=1, wall_seconds=1.5)  # for runs that are meant to hit a limit
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
    before = _sandbox_processes()
    spin = await run_code_tests("while True:\n    pass\n", TESTS, SHORT)
    assert spin.status == "timeout"
    nap = await run_code_tests("import time\ntime.sleep(60)\n", TESTS, SHORT)
    assert nap.status == "timeout"
    assert nap.duration_ms < 5_000
    chatty = await run_code_tests("import time\nprint('started', flush=True)\ntime.sleep(60)\n", TESTS, SHORT)
    assert chatty.status == "timeout"
    assert "started" in chatty.stdout  # what was printed before the deadline is kept
    await asyncio.sleep(0.2)
    assert _sandbox_processes() == before  # the whole group was killed


async def test_memory_bombs_are_contained() -> None:
    bomb = await run_code_tests("x = ' ' * (10 ** 10)\n", TESTS, FAST)
    assert bomb.status == "memory", bomb
    grow = "def add(a, b):\n    data = []\n    while True:\n        data.append(' ' * 10**6)\n"
    assert (await run_code_tests(grow, TESTS, FAST)).status == "memory"


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
        "import os\nos.posix_spawn('/bin/sh', ['sh'], {})\n",
        # fork_exec starts a process without any audit event; the runner disables it
        "import _posixsubprocess, os\nr, w = os.pipe()\n_posixsubprocess.fork_exec([b'/bin/sh'], [b'/bin/sh'], True,"
        " (w,), None, None, -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, None, -1, None, False)\n",
        "import sys\ndel sys.modules['_posixsubprocess']\nimport _posixsubprocess\n",
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
    for name in ("LYCEUM_SECRET_KEY", "DATABASE_URL", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(name, "never-visible-in-the-sandbox-0123456789")
    stdlib = os.path.dirname(os.__file__)
    probes = {
        "passwd": "open('/etc/passwd').read()",
        "repo": f"open({str(ROOT / 'pyproject.toml')!r}).read()",
        "repo listing": f"import os\nos.listdir({str(ROOT)!r})",
        "venv": f"open({str(ROOT / '.venv' / 'pyvenv.cfg')!r}).read()",
        "parent": "open('../x', 'w').write('x')",
        "parent read": "open('../../etc/hostname').read()",
        "proc": "open('/proc/self/environ').read()",
        "stdlib write": f"import os\nos.open({stdlib + '/zz_sandbox_probe.py'!r}, os.O_WRONLY | os.O_CREAT)",
        "hard link": "import os\nos.link('/etc/passwd', 'p')\nopen('p').read()",
        "symlink": "import os\nos.symlink('/etc/passwd', 'p')",
        "device node": "import os, stat\nos.mknod('d', 0o600 | stat.S_IFCHR, os.makedev(1, 3))\nopen('d').read()",
        "raise limits": "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (100, 100))",
        "socket": "import socket\nsocket.create_connection(('127.0.0.1', 6379), timeout=1)",
        "raw socket": "import socket\nsocket.socket()",
        "ctypes": "import ctypes\nctypes.CDLL(None)",
        "native module": "import _imp, importlib.machinery as m, sys\n"
        "d = [p for p in sys.path if p.endswith('lib-dynload')][0]\n"
        "f = [n for n in __import__('os').listdir(d) if n.startswith('_ctypes.')][0]\n"
        "_imp.create_dynamic(m.ModuleSpec('_ctypes', None, origin=d + '/' + f))",
        "heap walk": "import gc\ngc.get_objects()",
    }
    for name, probe in probes.items():
        result = await run_code_tests(probe + "\n", TESTS, FAST)
        assert result.status == "crashed", name
        assert "not allowed in the sandbox" in result.detail, (name, result.detail)
    assert not Path(stdlib, "zz_sandbox_probe.py").exists()  # noqa: ASYNC240 - one stat, in a test
    env = await run_code_tests(
        "import os\ndef add(a, b):\n"
        "    assert not {'LYCEUM_SECRET_KEY', 'DATABASE_URL', 'ANTHROPIC_API_KEY'} & set(os.environ)\n"
        "    assert 'never-visible' not in repr(os.environ)\n    return a + b\n",
        TESTS,
        FAST,
    )
    assert env.passed == env.total, env


async def test_forged_results_change_nothing() -> None:
    fake = '{"tests": [["test_adds", true, ""], ["test_raises", true, ""]]}'
    printed = f"print({fake!r})\ndef add(a, b):\n    return 0\n"
    result = await run_code_tests(printed, TESTS, FAST)
    assert result.status == "ok"
    assert result.passed < result.total
    # writing a result to every inherited descriptor and exiting early: the result lacks the run's seal
    for_fds = f"import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, {fake!r}.encode())\n"
    for_fds += "    except OSError:\n        pass\nos._exit(0)\n"
    assert (await run_code_tests(for_fds, TESTS, FAST)).status == "error"
    # the runner keeps nothing in __main__'s globals to tamper with
    globs = "import sys\nassert not [n for n in vars(sys.modules['__main__']) if 'result' in n or 'out' in n]\n"
    globs += "def add(a, b):\n    return a + b\n"
    assert (await run_code_tests(globs, TESTS, FAST)).passed == 5


async def test_broken_hidden_tests_are_an_error_not_a_crash() -> None:
    result = await run_code_tests("def add(a, b):\n    return a + b\n", "def test_x(:\n    pass\n", FAST)
    assert result.status == "error"
    assert "hidden tests" in result.detail


async def test_overhead_is_small() -> None:
    durations = [(await run_code_tests("def add(a, b):\n    return a + b\n", TESTS)).duration_ms for _ in range(5)]
    assert sorted(durations)[2] < 500, durations  # ~30 ms on a dev machine; loose for loaded CI runners


async def test_concurrent_runs_stay_separate() -> None:
    results = await asyncio.gather(
        *(run_code_tests(f"def add(a, b):\n    return a + b + {i % 2}\n", TESTS, FAST) for i in range(8))
    )
    assert [r.passed == r.total for r in results] == [i % 2 == 0 for i in range(8)]
