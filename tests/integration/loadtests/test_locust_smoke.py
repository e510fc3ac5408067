"""The load test's journeys run against the real thing (issue 18): ``lyceum up`` on a fresh data dir, its
model the load tests' own fake (``loadtests/fake_model.py``), and locust headless with a few users of
every class.

The run stops on a condition, not a clock: once every journey has at least one successful request
(``LYCEUM_LOAD_UNTIL``, after at least 20 s of load); ``-t`` only bounds a run that never gets there.
Then, from locust's CSV: every journey succeeded, and no request was answered with a 5xx. Latency is
not asserted (the machine is shared and every core is busy).
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.server.embedded import free_port
from tests.support.data_dirs import embedded_data_dir

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 300.0  # seconds; bounds a failing start only
# No cpu_hog: this proves the journeys run end to end, not recovery; the suite's other xdist worker and the
# platform it starts keep the machine busy enough, and burning both cores here cost the suite minutes.
pytestmark = pytest.mark.slow

# (request type, name): one success each proves the journey ran end to end.
JOURNEYS = [
    ("WS", "tutor first token"),
    ("WS", "tutor full reply"),
    ("SSE", "tutor first token"),
    ("SSE", "tutor full reply"),
    ("WS", "feed ready"),
    ("WS", "feed held"),
    ("GRADE", "submission graded (graded)"),
    ("LTI", "LTI login initiation"),
    ("LTI", "LTI launch"),
    ("LTI", "LTI session"),
    ("GET", "GET /v1/courses/{id}/items/{item_id}"),
    ("GET", "GET /v1/courses"),
    ("POST", "POST /v1/auth/login (wrong password, one account)"),
]


def _wait(condition: object, what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        assert process.poll() is None, f"{what}: the process exited\n{log.read_text(errors='replace')[-6000:]}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}\n{log.read_text(errors='replace')[-6000:]}"
        time.sleep(0.5)


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=5).status_code in (200, 404)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def lyceum() -> Iterator[str]:
    """``lyceum up`` with the load tests' fake model; its URL."""
    with embedded_data_dir("loadtests") as root:
        model_port, port = free_port(), free_port()
        model_log, up_log = root / "fake-model.log", root / "lyceum-up.log"
        with model_log.open("wb") as log:
            model = subprocess.Popen(
                [sys.executable, "loadtests/fake_model.py", "--port", str(model_port), "--first-token-ms", "100"],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            {
                "ANTHROPIC_API_KEY": "sk-ant-load",
                "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{model_port}",
                # The LoginAttacker sprays random addresses; the org's login bucket must not lock the
                # journeys' own sign-ins out of a short run (the per-account bucket still refuses).
                "LYCEUM_RATE_LIMIT_LOGIN_ORG": "10000/60s",
                "LYCEUM_RATE_LIMIT_LOGIN_GLOBAL": "10000/60s",
                "LYCEUM_REVIEW_SAMPLE_RATE": "0",  # a confident grade stays "graded"
                "LYCEUM_LTI_ALLOW_PRIVATE": "true",  # the fake LMS serves its key set on loopback http
            }
        )
        with up_log.open("wb") as log:
            up = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "up", "--port", str(port), "--data-dir", str(root / "data")],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait(lambda: _answers(f"http://127.0.0.1:{model_port}/"), "the fake model", model, model_log)
            _wait(lambda: _answers(f"http://127.0.0.1:{port}/health"), "lyceum up", up, up_log)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(up)
            _stop(model)
            with contextlib.suppress(OSError, ValueError, IndexError):  # a PostgreSQL lyceum up could not stop
                postmaster = int((root / "data" / "postgres" / "postmaster.pid").read_text().split()[0])
                if Path(f"/proc/{postmaster}/comm").read_text().strip() == "postgres":
                    os.kill(postmaster, signal.SIGINT)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_journey_succeeds_under_load_and_nothing_answers_5xx(lyceum: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LYCEUM_LOAD_UNTIL": ";".join(name for _, name in JOURNEYS),
        "LYCEUM_LOAD_MIN_SECONDS": "20",
        "LYCEUM_LOAD_FEED_HOLD_SECONDS": "5",
        "LYCEUM_LOAD_LTI": "1",  # LtiLauncher is opt-in (its server needs LYCEUM_LTI_ALLOW_PRIVATE, set above)
        # The LtiLauncher's fake LMS: its key set on a free port, its key in this test's own file.
        "LYCEUM_LOAD_LMS_PORT": str(free_port()),
        "LYCEUM_LOAD_LMS_KEY": str(tmp_path / "fake-lms-key.json"),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            "loadtests/locustfile.py",
            "--headless",
            "-u",
            "8",
            "-r",
            "4",
            "-t",
            "240s",  # bounds a failing run; a passing one stops once every journey succeeded
            "--host",
            lyceum,
            "--csv",
            str(tmp_path / "run"),
            "--only-summary",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    output = run.stdout[-8000:] + run.stderr[-8000:]
    stats = {(row["Type"], row["Name"]): row for row in _rows(tmp_path / "run_stats.csv")}
    for key in JOURNEYS:
        row = stats.get(key)
        assert row is not None, f"no {key} in the run\n{output}"
        assert int(row["Request Count"]) > int(row["Failure Count"]), f"{key} never succeeded: {row}\n{output}"
    failures = _rows(tmp_path / "run_failures.csv")
    server_errors = [f for f in failures if re.search(r"\b5\d\d\b", f.get("Error", ""))]
    assert not server_errors, f"5xx answers: {server_errors}\n{output}"
    # Every other failure is worth reading too: a broken stream or an unexpected 4xx is a bug of one side.
    assert not failures, f"failed requests: {failures}\n{output}"
