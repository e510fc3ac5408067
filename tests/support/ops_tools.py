"""The operator's command-line tools the deployment tests run: kubectl, promtool, pgbouncer.

`make ops-tools` installs them from Debian's packages (`make test` depends on it). Where one is missing a test
skips and names it, unless LYCEUM_OPS_TOOLS_REQUIRED=1 (set by .ci/run): then a missing tool fails the run
instead of hiding the tests behind a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Debian installs pgbouncer in /usr/sbin, which is not on every user's PATH.
_EXTRA_DIRS = ("/usr/sbin", "/usr/local/sbin")


def find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in _EXTRA_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_tool(name: str) -> str:
    """The path of ``name``; skips the test when it is missing, or fails it when tools are required."""
    path = find_tool(name)
    if path is not None:
        return path
    reason = f"{name} is not installed (make ops-tools installs it from Debian's packages)"
    if os.environ.get("LYCEUM_OPS_TOOLS_REQUIRED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)
    raise AssertionError("unreachable")
