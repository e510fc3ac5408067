"""The `lyceum` command: course validation, and `lyceum up` on a machine with nothing running.

`lyceum up` is started exactly as outside checks do: in the background, polling /health, then SIGTERM.
DATABASE_URL/REDIS_URL are removed so it starts its own embedded PostgreSQL and Redis.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.server.api_process import default_api_processes
from app.server.embedded import free_port

ROOT = Path(__file__).resolve().parents[3]


def lyceum(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_courses_validate_accepts_the_shipped_content() -> None:
    result = lyceum("courses", "validate", "content/courses")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_openapi_exports_the_schema_with_the_streamed_event_shapes(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    env = {**os.environ, "LYCEUM_DATA_DIR": str(tmp_path), "LYCEUM_LOG_LEVEL": "WARNING"}
    result = lyceum("openapi", "--output", str(target), env=env)
    assert result.returncode == 0, result.stderr
    schema = json.loads(target.read_text())
    assert "/v1/courses/{course_id}/progress" in schema["paths"]
    for name in ("TutorEvent", "DeltaEvent", "DoneEvent", "BlockedEvent", "ErrorEvent"):
        assert name in schema["components"]["schemas"], name


def test_courses_validate_names_file_path_and_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        (ROOT / "content/courses/backend-foundations.yaml")
        .read_text()
        .replace("bloom_level: understand", "bloom_level: memorise", 1)
    )
    result = lyceum("courses", "validate", str(broken))
    assert result.returncode != 0
    assert str(broken) in result.stderr
    assert "bloom_level" in result.stderr
    assert "memorise" in result.stderr


def api_processes_of(parent: int) -> list[int]:
    """Pids of the API processes (app.server.api_process) whose parent is ``parent``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == parent and b"app.server.api_process" in argv:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_up_runs_the_platform_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["LYCEUM_LOG_LEVEL"] = "WARNING"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "up", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # A first start creates the database cluster, migrates and seeds: on a loaded 2-core machine that took
        # more than 90 s once. The deadline only bounds a broken start; a healthy one returns as soon as ready.
        deadline = time.monotonic() + 600
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "lyceum up did not become ready"
            try:
                if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        # Sign-in fails closed (503 with Retry-After) while the rate limiter's fail-fast Redis calls time out,
        # which a heavily loaded machine can cause right after start-up: a client honours Retry-After.
        while True:
            login = httpx.post(
                f"{url}/v1/auth/login",
                timeout=10,
                json={"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"},
            )
            if login.status_code != 503 or time.monotonic() > deadline:
                break
            assert login.headers.get("Retry-After"), login.text
            time.sleep(1)
        assert login.status_code == 200, login.text
        courses = httpx.get(
            f"{url}/v1/courses", timeout=10, headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
        assert courses.json()["total"] >= 3
        assert httpx.get(f"{url}/v1/config", timeout=10).json() == {"demo_mode": True}  # demo seed: demo mode
        # One API process per core this machine gives it (issue 15), each a child of `lyceum up`.
        # (The others start once the first answers: wait for them to be there.)
        while len(apis := api_processes_of(process.pid)) < default_api_processes():
            assert time.monotonic() < deadline, f"API processes: {apis}"
            time.sleep(0.1)
        assert len(apis) == default_api_processes()
        if len(apis) > 1:
            # One of them dies: the others go on serving the port while the supervisor starts another.
            os.kill(apis[0], signal.SIGKILL)
            while set(api_processes_of(process.pid)) - set(apis) == set():
                assert httpx.get(f"{url}/health", timeout=10).status_code == 200
                assert time.monotonic() < deadline, "the dead API process was not restarted"
                time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "learner@demo.test" in output
    assert url in output
    assert "lyceum: stopped" in output
    if default_api_processes() > 1:
        restarted = [line for line in output.splitlines() if "component_restarted" in line]
        assert any("component=api-" in line for line in restarted), output
    # One clear start-up: a sentence for the embedded servers, one banner, the demo data counted as the
    # README counts it, no platformdirs warning and no uvicorn start-up chatter.
    assert "lyceum: starting embedded PostgreSQL and Redis in" in output
    assert output.count("Lyceum is running at") == 1
    assert "4 courses (3 per organisation" in output
    assert "RuntimeDirWarning" not in output
    assert "Uvicorn running on" not in output
    assert (tmp_path / "data" / "postgres").is_dir()  # data persists in the data dir
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=1)


def test_banner_names_the_url_the_docs_and_the_demo_data() -> None:
    from app.cli import banner
    from app.seed import SeedReport

    report = SeedReport(
        orgs=["demo", "acme"],
        users=[("demo", "learner@demo.test", ["learner"]), ("acme", "learner@acme.test", ["learner"])],
        courses_written=6,
        password="pw",
        org_courses={"demo": ["a", "b", "c"], "acme": ["a", "b", "d"]},
    )
    text = banner("http://127.0.0.1:8000", report)
    assert "Lyceum is running at http://127.0.0.1:8000" in text
    assert "API docs  http://127.0.0.1:8000/schema" in text
    assert "2 organisations (demo, acme), 2 users, 4 courses (3 per organisation; loaded)" in text
    assert "password for all: pw" in text
    assert "org demo   learner@demo.test" in text


def test_seed_summary_counts_distinct_courses_and_changes() -> None:
    from app.seed import SeedReport

    unchanged = SeedReport(orgs=["x"], org_courses={"x": ["a", "b"]}, courses_unchanged=2)
    assert unchanged.summary() == "1 organisation (x), 0 users, 2 courses (2 per organisation; up to date)"
    uneven = SeedReport(
        orgs=["x", "y"], org_courses={"x": ["a"], "y": ["a", "b"]}, courses_written=1, courses_unchanged=2
    )
    assert uneven.summary() == "2 organisations (x, y), 0 users, 2 courses (1 in x, 2 in y; 1 updated)"
