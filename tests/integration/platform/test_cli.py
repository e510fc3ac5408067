"""The `lyceum` command: course validation, the OpenAPI export, the banner.

`lyceum up` itself, started on an empty data dir exactly as outside checks do (in the background, polling
/health, then SIGTERM, with its own embedded PostgreSQL and Redis), is tested in test_restarts.py, whose
platform is that start: one cold start of the whole platform instead of two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
