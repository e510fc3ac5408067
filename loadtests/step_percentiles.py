"""Per-step response-time percentiles per request name, for step-load runs (``LYCEUM_LOAD_STEPS``).

locust's CSV history has, per name, only cumulative counts and a sliding 10-s window of percentiles, so
what learners waited for *at 50 users* versus *at 150* cannot be read back from it. The locustfile feeds
every request into a ``StepPercentiles`` under the step it happened in and writes
``<--csv prefix>_step_percentiles.csv`` when the last step ends; ``summarize.py`` prints it as a table.

Pure (no locust import), so it is unit-tested on its own.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

FIELDS = ["step", "users", "type", "name", "requests", "failures", "p50", "p95", "p99"]
PERCENTILES = (50, 95, 99)


def percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of an ascending list (the value at or below which ``percent`` % fall)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(percent / 100.0 * len(ordered)))
    return ordered[rank - 1]


class StepPercentiles:
    """Response times grouped by (step, request type, name); failures counted beside them."""

    def __init__(self, users_per_step: list[int]) -> None:
        self.users = users_per_step
        self.times: dict[tuple[int, str, str], list[float]] = defaultdict(list)
        self.failures: dict[tuple[int, str, str], int] = defaultdict(int)

    def record(self, step: int, request_type: str, name: str, response_ms: float, failed: bool) -> None:
        if not 0 <= step < len(self.users):
            return  # the wind-down after the last step belongs to no step
        key = (step, request_type, name)
        self.times[key].append(response_ms)
        if failed:
            self.failures[key] += 1

    def rows(self) -> list[dict[str, str]]:
        """One row per (step, type, name), in step order then name: count, failures, p50/p95/p99 in ms."""
        rows = []
        for step, request_type, name in sorted(self.times, key=lambda k: (k[0], k[2], k[1])):
            ordered = sorted(self.times[(step, request_type, name)])
            row = {
                "step": str(step),
                "users": str(self.users[step]),
                "type": request_type,
                "name": name,
                "requests": str(len(ordered)),
                "failures": str(self.failures.get((step, request_type, name), 0)),
            }
            for percent in PERCENTILES:
                row[f"p{percent}"] = f"{percentile(ordered, percent):.0f}"
            rows.append(row)
        return rows

    def write(self, path: Path) -> None:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(self.rows())
