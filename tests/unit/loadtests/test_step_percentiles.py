"""Per-step percentiles of a step-load run (loadtests/step_percentiles.py): each request counts in the step it
happened in, and the percentiles are nearest-rank over that step's requests alone."""

from __future__ import annotations

import csv
from pathlib import Path

from loadtests.step_percentiles import StepPercentiles, percentile


def test_nearest_rank_percentiles() -> None:
    ordered = [float(n) for n in range(1, 101)]
    assert [percentile(ordered, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


def test_each_step_has_its_own_percentiles_and_failures(tmp_path: Path) -> None:
    recorder = StepPercentiles([10, 50])
    for ms in range(1, 11):
        recorder.record(0, "LTI", "LTI launch", float(ms), failed=False)
    for ms in range(100, 1100, 100):
        recorder.record(1, "LTI", "LTI launch", float(ms), failed=ms == 1000)
    recorder.record(2, "LTI", "LTI launch", 5.0, failed=True)  # after the last step: no step's
    path = tmp_path / "run_step_percentiles.csv"
    recorder.write(path)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["users"], r["requests"], r["failures"], r["p50"], r["p95"], r["p99"]) for r in rows] == [
        ("10", "10", "0", "5", "10", "10"),
        ("50", "10", "1", "500", "1000", "1000"),
    ]
