"""The published API only grows: nothing in the OpenAPI baseline may disappear or change.

Outside clients (LMS integrations, the web app's generated types, checks we never see) rely on every path,
operation, parameter, schema and property that was ever published. `openapi_baseline.json` is the document
as of its last refresh; the live document must contain all of it. Additions need no change here. A change
that removes or alters something fails until it is a deliberate, documented contract change, and only then
is the baseline refreshed: `uv run lyceum openapi | python -m json.tool --sort-keys --indent 1 >
tests/unit/api/openapi_baseline.json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from app.cli import openapi_document
from app.config import load_settings

BASELINE = Path(__file__).with_name("openapi_baseline.json")
# Wording may be improved without breaking anyone.
PROSE = frozenset({"description", "summary"})


def live_document(tmp_path: Path) -> dict[str, Any]:
    # Built in-process by the very function `lyceum openapi` writes out (test_cli checks the command itself),
    # with the settings that command would load: spawning it re-imported the whole app, minutes on a busy
    # machine. The JSON round trip compares what the command writes, not the Python objects.
    settings = load_settings({**os.environ, "LYCEUM_DATA_DIR": str(tmp_path), "LYCEUM_LOG_LEVEL": "WARNING"})
    document: dict[str, Any] = json.loads(json.dumps(openapi_document(settings), sort_keys=True))
    return document


def losses(before: Any, after: Any, path: str = "") -> list[str]:
    """What ``before`` has that ``after`` lacks or holds differently (additions are not losses)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key, value in before.items():
            if key not in after:
                found.append(f"{path}/{key}: removed")
            elif key not in PROSE:
                found.extend(losses(value, after[key], f"{path}/{key}"))
        return found
    if isinstance(before, list) and isinstance(after, list):
        if all(not isinstance(v, (dict, list)) for v in before + after):
            return [f"{path}: lost {v!r}" for v in before if v not in after]
        if len(before) != len(after):
            return [f"{path}: {len(before)} entries became {len(after)}"]
        return [
            loss for i, (b, a) in enumerate(zip(before, after, strict=True)) for loss in losses(b, a, f"{path}[{i}]")
        ]
    return [] if before == after else [f"{path}: {before!r} became {after!r}"]


def test_the_live_document_keeps_everything_in_the_baseline(tmp_path: Path) -> None:
    baseline = json.loads(BASELINE.read_text())
    lost = losses(baseline, live_document(tmp_path))
    assert not lost, "the published API lost or changed (see this module's docstring):\n" + "\n".join(lost[:50])


def test_the_check_sees_removals_and_changes_but_not_additions() -> None:
    before = {"paths": {"/a": {"get": {"parameters": [{"name": "q", "schema": {"type": "string"}}]}}}}
    added = {"paths": {"/a": {"get": {"parameters": [{"name": "q", "schema": {"type": "string"}}]}}, "/b": {}}}
    assert losses(before, added) == []
    changed = {"paths": {"/a": {"get": {"parameters": [{"name": "q", "schema": {"type": "integer"}}]}}}}
    assert losses(before, changed) == ["/paths//a/get/parameters[0]/schema/type: 'string' became 'integer'"]
    assert losses(before, {"paths": {}}) == ["/paths//a: removed"]
