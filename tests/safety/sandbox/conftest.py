"""The sandbox tests need the real boundary (bubblewrap + seccomp). Without it they skip with the reason,
unless LYCEUM_SANDBOX_REQUIRED=1 (set by .ci/run), where a missing sandbox fails the run."""

from __future__ import annotations

import os

import pytest

from app.domain.grading.sandbox import SandboxPolicy, SandboxUnavailable, isolation_for


@pytest.fixture(autouse=True)
async def isolated() -> None:
    try:
        isolation = await isolation_for(SandboxPolicy())
    except SandboxUnavailable as exc:
        if os.environ.get("LYCEUM_SANDBOX_REQUIRED") == "1":
            pytest.fail(f"the code sandbox is required here but unavailable: {exc}")
        pytest.skip(f"the code sandbox is unavailable here: {exc}")
    assert isolation.mode == "isolated"
