"""The SLO dashboard (deploy/grafana/lyceum-slo.json): valid JSON Grafana can import, and every query reads
only series the rules record or the application exports."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy.slo_rules import DASHBOARD, exported_names, generator, recorded_names, selected_names

PROMETHEUS_BUILTIN = {"ALERTS"}  # Prometheus's own series of firing alerts


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [target for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_the_dashboard_is_valid_json_with_unique_panels() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "lyceum-slo"
    assert dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"type", "title", "gridPos"} <= panel.keys()
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"]
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]


def test_every_slo_has_its_sli_budget_and_burn_rate_panels() -> None:
    exprs = [target["expr"] for target in _targets(_dashboard())]
    for slo in generator().SLOS:
        mine = [expr for expr in exprs if f'slo="{slo.name}"' in expr]
        assert any("ratio_rate30d" in e and "error_budget" not in e for e in mine), slo.name  # the SLI
        assert any("ratio_rate30d" in e and "error_budget" in e for e in mine), slo.name  # budget remaining
        assert any("ratio_rate1h" in e and "error_budget" in e for e in mine), slo.name  # burn rate


def test_every_query_reads_only_recorded_or_exported_series() -> None:
    known = recorded_names() | exported_names() | PROMETHEUS_BUILTIN
    for target in _targets(_dashboard()):
        names = selected_names(target["expr"])
        assert names, f"no metric in {target['expr']!r}"
        assert names <= known, f"unknown series {sorted(names - known)} in {target['expr']!r}"
