"""The licence check of shipped dependencies (tools/licences.py): its verdicts, and the real environment passing it."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("lyceum_tools_licences", ROOT / "tools" / "licences.py")
assert _spec is not None
assert _spec.loader is not None
licences = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = licences
_spec.loader.exec_module(licences)


@pytest.mark.parametrize(
    ("expression", "verdict"),
    [
        ("MIT", "ok"),
        ("Apache-2.0 OR BSD-3-Clause", "ok"),
        ("MPL-2.0 AND (Apache-2.0 OR MIT)", "ok"),
        ("MIT License", "ok"),
        ("AGPL-3.0-only", "incompatible"),
        ("GPL-3.0-or-later", "incompatible"),
        ("MIT AND GPL-2.0-only", "incompatible"),
        ("GPL-3.0-only OR MIT", "ok"),
        ("SSPL-1.0", "incompatible"),
        ("LGPL-3.0-only", "unknown"),  # acceptable only as a listed exception with a reason
        ("(none declared)", "unknown"),
        ("Proprietary", "unknown"),
    ],
)
def test_expressions_are_judged_against_apache_2(expression: str, verdict: str) -> None:
    assert licences.judge_expression(expression) == verdict


def test_an_exception_needs_a_reason() -> None:
    without = licences._finding("python", "x", "1", "LGPL-3.0-only", {"x": {"licence": "LGPL-3.0-only"}})
    with_reason = licences._finding("python", "x", "1", "LGPL-3.0-only", {"x": {"reason": "dynamic use"}})
    assert without.fails
    assert not with_reason.fails
    assert with_reason.verdict == "exception: dynamic use"


def test_the_runtime_closure_comes_from_the_lock_without_dev_tools() -> None:
    names = licences.python_runtime_packages()
    assert {"litestar", "sqlalchemy", "greenlet", "frozendict"} <= set(names)  # greenlet via sqlalchemy[asyncio]
    assert not {"pytest", "ruff", "mypy", "locust"} & set(names)


def test_every_shipped_dependency_has_an_acceptable_licence() -> None:
    if not (ROOT / "frontend" / "node_modules").is_dir() or shutil.which("npm") is None:
        pytest.skip("the web app's packages are not installed (make install)")
    findings = licences.check()
    assert {f.ecosystem for f in findings} == {"python", "npm"}
    failures = [f"{f.ecosystem} {f.package} {f.version}: {f.licence} ({f.verdict})" for f in findings if f.fails]
    assert not failures, "dependencies under licences incompatible with Apache-2.0:\n" + "\n".join(failures)
