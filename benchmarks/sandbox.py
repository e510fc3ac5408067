"""What the code sandbox's boundary costs, against starting a bare interpreter, in one run.

Interleaved rounds of:
- baseline: one ``python -I -S -B -c pass`` child process (the floor for running anything out of process);
- unsafe: ``run_code_tests`` in the development-only unisolated mode (two processes and the bridge, no boundary);
- isolated: ``run_code_tests`` as deployed (two bubblewrap sandboxes with seccomp, the bridge);
then 8 isolated runs at once. Reports median / p95 wall time, ratios to the baseline, and CPU time per run.
CPU is read machine-wide from /proc/stat (the sandboxed processes are reaped inside their own pid namespace,
so getrusage does not see them): run it on an otherwise idle machine.
`uv run python benchmarks/sandbox.py [--rounds 30]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from app.domain.grading.sandbox import SandboxLimits, SandboxPolicy, isolation_for, run_code_tests
from app.domain.grading.sandbox.isolation import python_executable

CODE = "def add(a, b):\n    return a + b\n"
TESTS = "from submission import add\n\n" + "".join(
    f"def test_{i}():\n    assert add({i}, {i}) == {2 * i}\n\n" for i in range(10)
)
LIMITS = SandboxLimits(cpu_seconds=5, wall_seconds=60)
UNSAFE = SandboxPolicy(bwrap="/nonexistent/bwrap", allow_unsafe=True)


def _cpu() -> float:
    """Busy CPU seconds of the whole machine so far (every state but idle and iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


async def baseline() -> None:
    process = await asyncio.create_subprocess_exec(python_executable(), "-I", "-S", "-B", "-c", "pass")
    await process.wait()


async def unsafe() -> None:
    result = await run_code_tests(CODE, TESTS, LIMITS, UNSAFE)
    assert result.passed == 10, result


async def isolated() -> None:
    result = await run_code_tests(CODE, TESTS, LIMITS)
    assert (result.passed, result.isolation) == (10, "isolated"), result


async def measure(rounds: int) -> dict[str, tuple[list[float], float]]:
    cases: dict[str, Callable[[], Awaitable[None]]] = {"baseline": baseline, "unsafe": unsafe, "isolated": isolated}
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, float] = dict.fromkeys(cases, 0.0)
    for _ in range(rounds):
        for name, case in cases.items():
            cpu_before, started = _cpu(), time.perf_counter()
            await case()
            walls[name].append((time.perf_counter() - started) * 1000)
            cpu[name] += _cpu() - cpu_before
    return {name: (walls[name], cpu[name] / rounds) for name in cases}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    await isolation_for(SandboxPolicy())
    await isolation_for(UNSAFE)
    await isolated()  # warm: layout, seccomp program, page cache
    results = await measure(args.rounds)
    base = statistics.median(results["baseline"][0])
    print(f"python {sys.version.split()[0]}, {args.rounds} interleaved rounds, 10 hidden tests per run")
    print(f"{'case':<10} {'p50 ms':>8} {'p95 ms':>8} {'x baseline':>11} {'CPU ms/run':>11}")
    for name, (walls, cpu) in results.items():
        p50, p95 = statistics.median(walls), statistics.quantiles(walls, n=20)[18]
        print(f"{name:<10} {p50:>8.1f} {p95:>8.1f} {p50 / base:>11.2f} {cpu * 1000:>11.1f}")
    started = time.perf_counter()
    await asyncio.gather(*(isolated() for _ in range(8)))
    print(f"8 isolated runs at once: {(time.perf_counter() - started) * 1000:.0f} ms in all")


if __name__ == "__main__":
    asyncio.run(main())
