"""Tables for docs/load-testing.md from a step-load run's CSV files (``--csv <prefix> --csv-full-history``).

    uv run python loadtests/summarize.py <prefix> <cpu.csv> <LYCEUM_LOAD_STEPS> [<LYCEUM_LOAD_STEP_SECONDS>]

Prints, as Markdown: per request name, count / failures / p50 / p95 / p99 over the whole run; per step
(user count), the offered load, the aggregated p50 / p95 at the end of the step (locust's last-10-s
window), replies, refusals and failures in that step; with cpu.csv (loadtests/cpu_sampler.py), the mean CPU
of each process kind per step; and, when the run wrote ``<prefix>_step_percentiles.csv`` (the locustfile does
for a step load with ``--csv``), p50 / p95 / p99 per request name in each step.
"""

from __future__ import annotations

import calendar
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

REFUSALS = ("429 rate limited", "tutor blocked", "tutor refused")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def per_name(prefix: str) -> None:
    print("| type | name | requests | failures | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in sorted(_rows(Path(f"{prefix}_stats.csv")), key=lambda r: (r["Name"] == "Aggregated", r["Name"])):
        print(
            f"| {row['Type']} | {row['Name']} | {row['Request Count']} | {row['Failure Count']} | {row['50%']} | "
            f"{row['95%']} | {row['99%']} |"
        )


def per_step(prefix: str, cpu_path: Path | None, targets: list[int], seconds: float) -> None:
    """Steps by time since the first sample (the shape holds each step ``seconds``): user counts alone
    would mix ramp-up and the wind-down after the last step into the wrong steps."""
    history = _rows(Path(f"{prefix}_stats_history.csv"))
    first = min(int(row["Timestamp"]) for row in history)

    def step_of(at: float) -> int | None:
        index = int((at - first) // seconds)
        return index if 0 <= index < len(targets) else None

    steps: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in history:
        if (index := step_of(int(row["Timestamp"]))) is not None:
            steps[index].append(row)
    cpu: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    kinds: set[str] = set()
    if cpu_path is not None:
        day = time.strftime("%Y-%m-%d", time.gmtime(first))
        for row in _rows(cpu_path):  # cpu_sampler writes HH:MM:SS (UTC on this machine)
            at = calendar.timegm(time.strptime(f"{day} {row['time']}", "%Y-%m-%d %H:%M:%S"))
            if (index := step_of(at)) is not None:
                cpu[index][row["kind"]].append(float(row["cpu_percent"]))
                kinds.add(row["kind"])
    shown = sorted(k for k in kinds if k != "other")
    header = "| users | req/s | p50 ms | p95 ms | replies (WS+SSE) | refusals | failures |"
    print(header + "".join(f" {k} CPU % |" for k in shown))
    print("|---:" * (7 + len(shown)) + "|")
    previous: dict[tuple[str, str], tuple[int, int]] = {}
    for index in sorted(steps):
        rows = steps[index]
        aggregated = [r for r in rows if r["Name"] == "Aggregated"]
        rate = sum(float(r["Requests/s"]) for r in aggregated) / max(1, len(aggregated))
        last = aggregated[-1] if aggregated else {"50%": "", "95%": ""}
        totals: dict[tuple[str, str], tuple[int, int]] = {}
        for r in rows:
            totals[(r["Type"], r["Name"])] = (int(r["Total Request Count"]), int(r["Total Failure Count"]))
        replies = refusals = failures = 0
        for key, (count, failed) in totals.items():
            done, failed_before = previous.get(key, (0, 0))
            if key[1] == "Aggregated":
                failures = failed - failed_before
            elif key[1] == "tutor full reply":
                replies += count - done
            elif key[1].startswith(REFUSALS):
                refusals += count - done
        previous.update(totals)
        line = f"| {targets[index]} | {rate:.1f} | {last['50%']} | {last['95%']} | {replies} | {refusals} |"
        line += f" {failures} |"
        for kind in shown:
            samples = cpu[index].get(kind, [])
            line += f" {sum(samples) / len(samples):.0f} |" if samples else " - |"
        print(line)


def per_step_name(prefix: str) -> None:
    """Per step, per request name: requests, failures, p50 / p95 / p99 (loadtests/step_percentiles.py)."""
    path = Path(f"{prefix}_step_percentiles.csv")
    if not path.exists():
        return
    print("| users | type | name | requests | failures | p50 ms | p95 ms | p99 ms |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for row in _rows(path):
        print(
            f"| {row['users']} | {row['type']} | {row['name']} | {row['requests']} | {row['failures']} | "
            f"{row['p50']} | {row['p95']} | {row['p99']} |"
        )


def main() -> None:
    prefix = sys.argv[1]
    cpu_path = Path(sys.argv[2])
    targets = [int(users) for users in sys.argv[3].split(",")]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 45.0
    per_step(prefix, cpu_path, targets, seconds)
    print()
    per_name(prefix)
    if Path(f"{prefix}_step_percentiles.csv").exists():
        print()
        per_step_name(prefix)


if __name__ == "__main__":
    main()
