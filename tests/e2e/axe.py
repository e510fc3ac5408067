"""axe-core in the browser tests: inject the npm package's axe.min.js into a page and fail on what it finds.

Serious and critical findings fail, and so do three rules that matter here whatever axe's impact says:
side-list link names that do not start with their visible text (WCAG 2.5.3), skipped heading levels, and
scroll areas a keyboard cannot reach (WCAG 2.1.1). `label-content-name-mismatch` is "experimental" in axe
and off unless enabled, so it is turned on explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
ALWAYS_FAIL = {"label-content-name-mismatch", "heading-order", "scrollable-region-focusable"}
FAILING_IMPACTS = {"serious", "critical"}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe on the page as it is now; the violations that fail the suite."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result: dict[str, Any] = page.evaluate(
        """async () => await window.axe.run(document, {
               resultTypes: ['violations'],
               rules: { 'label-content-name-mismatch': { enabled: true } },
           })"""
    )
    return [v for v in result["violations"] if v["impact"] in FAILING_IMPACTS or v["id"] in ALWAYS_FAIL]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} at {targets}")
    return "\n".join(lines)


def assert_accessible(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {where} ({page.url}):\n{describe(violations)}"
