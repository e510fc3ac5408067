"""The course JSON Schema the editor's completion tests run on (frontend/src/pages/teach/authoring/
courseSchema.fixture.json) is the one ``GET /v1/authoring/schema`` answers, key order included (the
completion lists keys in the schema's order), so the vitest cases exercise the real course format."""

from __future__ import annotations

import json
from pathlib import Path

from app.domain.authoring.course_schema import course_schema

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "frontend" / "src" / "pages" / "teach" / "authoring" / "courseSchema.fixture.json"
REGENERATE = (
    "uv run python -c 'import json; from app.domain.authoring.course_schema import course_schema; "
    f"print(json.dumps(course_schema().document, indent=1))' > {FIXTURE.relative_to(ROOT)}"
)


def test_the_editor_tests_use_the_served_schema() -> None:
    served = course_schema().document
    stored = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert stored == served, f"the course format changed: regenerate the fixture with\n{REGENERATE}"
    assert json.dumps(stored) == json.dumps(served), f"the key order changed: regenerate it with\n{REGENERATE}"
