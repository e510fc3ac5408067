"""The image runs with a read-only root filesystem (Dockerfile, deploy/k8s): `lyceum migrate` and the API, started
with the Dockerfile's own CMD, work when everything but the data dir and /tmp is read-only. No Docker daemon here,
so bubblewrap gives the same view of this machine: the root bound read-only, a fresh /tmp, one writable data dir."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server.embedded import free_port
from app.server.supervisor import die_with_parent
from tests.support.stack import settings_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 300.0  # seconds; bounds a failing run only (an API starting on a loaded machine)


def _read_only_argv(data_dir: Path) -> list[str]:
    return [
        "bwrap", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
        "--tmpfs", "/tmp",  # noqa: S108 - its own /tmp
        # The checkout again, read-only: a clone under /tmp (a fresh-clone run) would be hidden by that tmpfs.
        "--ro-bind", str(ROOT), str(ROOT),
        "--bind", str(data_dir), str(data_dir), "--chdir", str(ROOT),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """The bubblewrap prefix and the one writable data dir; skips where bubblewrap cannot build the view."""
    data_dir = tmp_path_factory.mktemp("read-only-data")
    probe = subprocess.run([*_read_only_argv(data_dir), "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        reason = f"bubblewrap cannot give a read-only root here: {probe.stderr.strip() or probe.returncode}"
        if os.environ.get("LYCEUM_SANDBOX_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return _read_only_argv(data_dir), data_dir


@pytest.fixture(scope="module")
def image_env(
    database_url: str, redis_url: str, redis_prefix: str, seeded: Any, read_only: tuple[list[str], Path]
) -> dict[str, str]:
    """The test settings, with the image's environment: no bytecode written, HOME on /tmp."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LYCEUM_", "ANTHROPIC_")) and k not in ("DATABASE_URL", "REDIS_URL", "CHROMA_URL")
    }
    env = {**inherited, **settings_env(database_url, redis_url, redis_prefix, read_only[1])}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/tmp"}  # noqa: S108 - the image's HOME


def dockerfile_cmd() -> list[str]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    (cmd,) = [line.split(None, 1)[1] for line in text.splitlines() if line.startswith("CMD ")]
    argv: list[str] = json.loads(cmd)
    return argv


def test_migrate_runs_on_a_read_only_root(read_only: tuple[list[str], Path], image_env: dict[str, str]) -> None:
    prefix, _ = read_only
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "app.cli", "migrate"],
        env=image_env,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "latest migration" in result.stdout


@pytest.fixture(scope="module")
def api_url(
    read_only: tuple[list[str], Path], image_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The API started with the Dockerfile's CMD (its uvicorn and WebSocket flags), on a loopback port."""
    prefix, _ = read_only
    argv = dockerfile_cmd()
    assert argv[0] == "uvicorn"
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", *argv[1:]]
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    log_path = tmp_path_factory.mktemp("read-only-api") / "api.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*prefix, *argv], env=image_env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            assert process.poll() is None, f"the API exited:\n{log_path.read_text()[-4000:]}"
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the API is not healthy:\n{log_path.read_text()[-4000:]}"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_api_serves_on_a_read_only_root(api_url: str) -> None:
    assert httpx.get(f"{api_url}/ready", timeout=10).json()["status"] == "ok"
    # What the image's HEALTHCHECK and the Kubernetes probes ask, and the worker autoscaler's input.
    assert httpx.get(f"{api_url}/health", timeout=10).status_code == 200
    metrics = httpx.get(f"{api_url}/metrics", timeout=10)
    assert metrics.status_code == 200
    assert 'lyceum_queue_depth{queue="lyceum"}' in metrics.text
    # A page a learner opens: sign-in config, served by the same process.
    assert httpx.get(f"{api_url}/v1/config", timeout=10).status_code == 200


def test_the_worker_starts_on_a_read_only_root(
    read_only: tuple[list[str], Path], image_env: dict[str, str], tmp_path: Path
) -> None:
    """`lyceum worker` (the worker Deployment's command) comes up: its components, the webhook listener and the
    sandbox check at start (which compiles the sandbox's guest package best-effort) need no writable root."""
    prefix, _ = read_only
    # A queue of its own: this worker must not take the jobs other tests of this session enqueue.
    env = {**image_env, "LYCEUM_REDIS_KEY_PREFIX": f"{image_env['LYCEUM_REDIS_KEY_PREFIX']}ro-worker:"}
    env["LYCEUM_LOG_LEVEL"] = "INFO"
    log_path = tmp_path / "worker.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "app.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )
    try:
        deadline = time.monotonic() + DEADLINE
        # The sandbox check is the last step of the worker's start-up: either outcome is logged.
        while not re.search(r"sandbox_isolated|code_grading_unavailable", log_path.read_text()):
            assert process.poll() is None, f"the worker exited:\n{log_path.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"the worker did not start:\n{log_path.read_text()[-4000:]}"
            time.sleep(0.2)
        output = log_path.read_text()
        assert "worker_started" in output
        assert "Read-only file system" not in output
        assert process.poll() is None
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
