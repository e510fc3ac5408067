"""Lyceum's SLOs in one table, and everything derived from it (docs/slo.md):

- ``deploy/prometheus/rules/lyceum-slo.rules.yml``: recording rules (each SLI's error ratio over every window)
  and the multi-window, multi-burn-rate alerts;
- ``deploy/prometheus/tests/<slo>.test.yml``: promtool unit tests, each alert firing on a burning series and
  staying quiet on a healthy one;
- ``deploy/grafana/lyceum-slo.json``: the Grafana dashboard, which reads only the recorded series.

Run ``python deploy/prometheus/generate_rules.py`` after changing the table and commit what it writes;
``--check`` exits 1 when a committed file differs (tests/deploy/test_prometheus_rules.py runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = ROOT / "deploy/prometheus/rules/lyceum-slo.rules.yml"
TESTS_DIR = ROOT / "deploy/prometheus/tests"
DASHBOARD_FILE = ROOT / "deploy/grafana/lyceum-slo.json"

# Every window an alert or the dashboard reads. 30d is the SLO period (error budget remaining).
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
ERROR_RATIO = "slo:sli_error:ratio_rate{window}"  # bad events / all events over the window
ERROR_BUDGET = "slo:error_budget:ratio"  # 1 - objective: the error ratio the SLO allows
OBJECTIVE = "slo:objective:ratio"

# Streaming responses last as long as the conversation or the subscription: not a latency.
_STREAMING = 'route!~".*/(messages|events|feed|ws)|.*/preview/tutor"'
_GRADED_LATER = 'kind!="multiple_choice"'  # exact answers are graded in the request, at once
# `le` as the app's client writes it and Prometheus 3 normalises it ("60.0", not "60"): a bucket bound of the
# metric, or the selector matches nothing (tests/deploy checks a real scrape has each one).


@dataclass(frozen=True)
class Alert:
    """Fire when the error ratio burns the budget ``factor`` times too fast over both windows (SRE workbook,
    chapter 5): the long window makes it significant, the short one ends it soon after the burn stops."""

    name: str
    severity: str
    checks: tuple[tuple[float, str, str], ...]  # (burn factor, long window, short window); any one fires
    for_: str
    meaning: str


ALERTS = (
    Alert("LyceumSLOFastBurn", "page", ((14.4, "1h", "5m"),), "2m", "2 % of the 30-day budget spent in an hour"),
    Alert("LyceumSLOMediumBurn", "page", ((6, "6h", "30m"),), "15m", "5 % of the 30-day budget spent in 6 hours"),
    Alert(
        "LyceumSLOSlowBurn",
        "ticket",
        ((3, "1d", "2h"), (1, "3d", "6h")),
        "1h",
        "10 % of the budget spent in a day, or the budget spent as fast as it accrues over 3 days",
    ),
)

# Promtool input: increments per minute of the "good" and "bad" counters an SLI reads.
Series = list[tuple[str, Callable[[float, float], float]]]


@dataclass(frozen=True)
class SLO:
    name: str  # the `slo` label
    title: str
    objective: float  # share of good events over 30 days
    sli: str  # what counts as good, in words
    errors: str  # PromQL: bad events per second over `{w}`
    total: str  # PromQL: all events per second over `{w}`
    runbook: str  # docs/runbooks/<file> or docs/slo.md anchor
    series: Series  # how the tests build the raw metrics from good and bad events per minute

    @property
    def budget(self) -> float:
        return round(1 - self.objective, 10)


def _histogram(metric: str, le: str, labels: str = "") -> Series:
    sep = "," if labels else ""
    return [
        (f'{metric}_bucket{{{labels}{sep}le="{le}"}}', lambda good, bad: good),
        (f"{metric}_count{{{labels}}}", lambda good, bad: good + bad),
    ]


SLOS = (
    SLO(
        name="api-availability",
        title="API availability",
        objective=0.999,
        sli="`/v1` requests answered without a 5xx (503s from fail-closed policies count as errors)",
        errors='sum(rate(lyceum_http_request_duration_seconds_count{route=~"/v1/.*",status=~"5.."}[{w}]))',
        total='sum(rate(lyceum_http_request_duration_seconds_count{route=~"/v1/.*"}[{w}]))',
        runbook="runbooks/README.md",
        series=[
            (
                'lyceum_http_request_duration_seconds_count{route="/v1/courses",status="200"}',
                lambda good, bad: good,
            ),
            (
                'lyceum_http_request_duration_seconds_count{route="/v1/courses",status="503"}',
                lambda good, bad: bad,
            ),
        ],
    ),
    SLO(
        name="api-latency",
        title="API latency",
        objective=0.99,
        sli="non-streaming `/v1` requests answered within 500 ms",
        errors=(
            f'(sum(rate(lyceum_http_request_duration_seconds_count{{route=~"/v1/.*",{_STREAMING}}}[{{w}}]))'
            f' - sum(rate(lyceum_http_request_duration_seconds_bucket{{route=~"/v1/.*",{_STREAMING},le="0.5"}}'
            "[{w}])))"
        ),
        total=f'sum(rate(lyceum_http_request_duration_seconds_count{{route=~"/v1/.*",{_STREAMING}}}[{{w}}]))',
        runbook="runbooks/README.md",
        series=_histogram("lyceum_http_request_duration_seconds", "0.5", 'route="/v1/courses"'),
    ),
    SLO(
        name="tutor-first-token",
        title="Tutor time to first token",
        objective=0.95,
        sli="tutor turns whose first token reached the learner within 2 s",
        errors=(
            "(sum(rate(lyceum_tutor_first_token_seconds_count[{w}]))"
            ' - sum(rate(lyceum_tutor_first_token_seconds_bucket{le="2.0"}[{w}])))'
        ),
        total="sum(rate(lyceum_tutor_first_token_seconds_count[{w}]))",
        runbook="tutor.md",
        series=_histogram("lyceum_tutor_first_token_seconds", "2.0"),
    ),
    SLO(
        name="tutor-turns",
        title="Tutor turns answered",
        objective=0.99,
        sli="tutor turns that did not end in a model error or an outage (blocked and cancelled turns are good)",
        errors='sum(rate(lyceum_tutor_turns_total{outcome=~"error|unavailable"}[{w}]))',
        total="sum(rate(lyceum_tutor_turns_total[{w}]))",
        runbook="tutor.md",
        series=[
            ('lyceum_tutor_turns_total{outcome="completed"}', lambda good, bad: good),
            ('lyceum_tutor_turns_total{outcome="error"}', lambda good, bad: bad),
        ],
    ),
    SLO(
        name="grading-time",
        title="Grading time",
        objective=0.99,
        sli="model- and sandbox-graded submissions with a grade (or sent to a person) within 60 s of submission; "
        "a dead-lettered submission counts as too slow",
        errors=(
            f"(sum(rate(lyceum_grading_duration_seconds_count{{{_GRADED_LATER}}}[{{w}}]))"
            f' - sum(rate(lyceum_grading_duration_seconds_bucket{{{_GRADED_LATER},le="60.0"}}[{{w}}]))'
            ' + sum(rate(lyceum_grading_outcomes_total{outcome="failed"}[{w}])))'
        ),
        total=(
            f"(sum(rate(lyceum_grading_duration_seconds_count{{{_GRADED_LATER}}}[{{w}}]))"
            ' + sum(rate(lyceum_grading_outcomes_total{outcome="failed"}[{w}])))'
        ),
        runbook="runbooks/grading-backlog.md",
        series=[
            *_histogram("lyceum_grading_duration_seconds", "60.0", 'kind="short_answer"'),
            ('lyceum_grading_outcomes_total{outcome="failed"}', lambda good, bad: 0),
        ],
    ),
    SLO(
        name="feed-delivery",
        title="Live feed delivery lag",
        objective=0.99,
        sli="events handed to a process's feed subscribers within 1 s of being published",
        errors=(
            "(sum(rate(lyceum_events_delivery_lag_seconds_count[{w}]))"
            ' - sum(rate(lyceum_events_delivery_lag_seconds_bucket{le="1.0"}[{w}])))'
        ),
        total="sum(rate(lyceum_events_delivery_lag_seconds_count[{w}]))",
        runbook="runbooks/redis-down.md",
        series=_histogram("lyceum_events_delivery_lag_seconds", "1.0"),
    ),
)


def _number(value: float) -> str:
    return repr(round(value, 10))


def _ratio(slo: SLO, window: str) -> str:
    return ERROR_RATIO.format(window=window)


def recording_rules(slo: SLO) -> list[dict[str, Any]]:
    labels = {"slo": slo.name}
    rules: list[dict[str, Any]] = [
        {"record": OBJECTIVE, "expr": f"vector({_number(slo.objective)})", "labels": labels},
        {"record": ERROR_BUDGET, "expr": f"vector({_number(slo.budget)})", "labels": labels},
    ]
    for window in WINDOWS:
        expr = f"{slo.errors.replace('{w}', window)}\n/\n{slo.total.replace('{w}', window)}"
        rules.append({"record": _ratio(slo, window), "expr": expr, "labels": labels})
    return rules


def alert_rules(slo: SLO) -> list[dict[str, Any]]:
    rules = []
    sel = f'{{slo="{slo.name}"}}'
    for alert in ALERTS:
        checks = [
            f"({_ratio(slo, long)}{sel} > {_number(factor * slo.budget)}"
            f" and {_ratio(slo, short)}{sel} > {_number(factor * slo.budget)})"
            for factor, long, short in alert.checks
        ]
        rules.append(
            {
                "alert": alert.name,
                "expr": "\nor\n".join(checks),
                "for": alert.for_,
                "labels": {"severity": alert.severity, "slo": slo.name},
                "annotations": annotations(slo, alert),
            }
        )
    return rules


def annotations(slo: SLO, alert: Alert) -> dict[str, str]:
    windows = "; ".join(f"{factor}x over {long} and {short}" for factor, long, short in alert.checks)
    return {
        "summary": f"{slo.title}: error budget burning ({alert.meaning})",
        "description": f"SLO {_number(slo.objective * 100)} % of {slo.sli}. Burn rate {windows}.",
        "runbook_url": f"docs/slo.md#{slo.name}",
    }


def rules_document() -> dict[str, Any]:
    groups = []
    for slo in SLOS:
        groups.append({"name": f"lyceum-slo-{slo.name}-recording", "rules": recording_rules(slo)})
        groups.append({"name": f"lyceum-slo-{slo.name}-alerts", "rules": alert_rules(slo)})
    return {"groups": groups}


# Promtool scenarios: (minutes, burn factor) segments; a burn of 1 spends exactly the budget.
_PER_MINUTE = 1000  # events per minute in the test series
# A window longer than the data holds the ratio of what there is, so two hours of a steady burn exercise the
# 3-day window too: promtool then evaluates minutes of samples instead of days (4 minutes a file with 3 days).
_SCENARIOS: dict[str, tuple[tuple[int, float], ...]] = {
    "healthy": ((150, 0.5),),
    "fast-burn": ((120, 15),),
    "fast-burn-stops": ((60, 15), (60, 0)),
    "slow-burn": ((150, 2),),
}
# (scenario, evaluated at, alerts expected to fire)
_EXPECTATIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("healthy", "30m", ()),
    ("healthy", "2h", ()),
    ("fast-burn", "30m", ("LyceumSLOFastBurn", "LyceumSLOMediumBurn")),
    ("fast-burn", "90m", ("LyceumSLOFastBurn", "LyceumSLOMediumBurn", "LyceumSLOSlowBurn")),
    # The burn stopped 10 minutes ago: the 5-minute window ends the page; the 30-minute one still holds 20
    # burning minutes (10x the budget > 6x).
    ("fast-burn-stops", "70m", ("LyceumSLOMediumBurn", "LyceumSLOSlowBurn")),
    # 2x: under every page's factor and under 3x (1 day), over 1x (3 days): a ticket only, after its hour.
    ("slow-burn", "30m", ()),
    ("slow-burn", "2h", ("LyceumSLOSlowBurn",)),
)


def _expanding(segments: tuple[tuple[int, float], ...], pick: Callable[[float, float], float], budget: float) -> str:
    """Promtool's expanding notation for a counter growing by ``pick(good, bad)`` a minute in each segment."""
    parts, value, first = [], 0.0, True
    for minutes, burn in segments:
        bad = round(burn * budget * _PER_MINUTE, 6)
        step = round(pick(_PER_MINUTE - bad, bad), 6)
        if first:
            parts.append(f"0+{_number(step)}x{minutes}")
            value, first = step * minutes, False
        else:
            parts.append(f"{_number(value + step)}+{_number(step)}x{minutes - 1}")
            value += step * minutes
    return " ".join(parts)


def tests_document(slo: SLO) -> dict[str, Any]:
    tests = []
    for scenario, segments in _SCENARIOS.items():
        cases = [
            {
                "eval_time": at,
                "alertname": alert.name,
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": alert.severity, "slo": slo.name},
                        "exp_annotations": annotations(slo, alert),
                    }
                ]
                if alert.name in firing
                else [],
            }
            for name, at, firing in _EXPECTATIONS
            if name == scenario
            for alert in ALERTS
        ]
        test: dict[str, Any] = {
            "name": f"{slo.name}: {scenario}",
            "interval": "1m",
            "input_series": [
                {"series": series, "values": _expanding(segments, pick, slo.budget)} for series, pick in slo.series
            ],
            "alert_rule_test": cases,
        }
        if len(segments) == 1:  # a steady burn: the recorded SLI is burn x budget over every window
            ratio = _number(segments[0][1] * slo.budget)
            test["promql_expr_test"] = [
                {  # promtool compares floats exactly; rates carry rounding: 1 when within 1e-9
                    "expr": f'abs({_ratio(slo, window)}{{slo="{slo.name}"}} - {ratio}) < bool 1e-9',
                    "eval_time": "30m",
                    "exp_samples": [{"labels": f'{{slo="{slo.name}"}}', "value": 1}],
                }
                for window in ("5m", "1h", "3d")
            ]
        tests.append(test)
    return {"rule_files": ["../rules/lyceum-slo.rules.yml"], "evaluation_interval": "1m", "tests": tests}


def _panel(pid: int, title: str, kind: str, grid: dict[str, int], targets: list[tuple[str, str]], **extra: Any):
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": grid,
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
        **extra,
    }


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    pid, y = 1, 0
    percent = {"defaults": {"unit": "percentunit", "decimals": 3}, "overrides": []}
    for slo in SLOS:
        sel = f'{{slo="{slo.name}"}}'
        panels.append({"id": pid, "type": "row", "title": f"{slo.title} ({slo.name})", "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})  # fmt: skip
        pid, y = pid + 1, y + 1
        panels.append(
            _panel(
                pid,
                f"SLI over 30 days (objective {_number(slo.objective * 100)} %)",
                "stat",
                {"h": 6, "w": 6, "x": 0, "y": y},
                [(f"1 - {ERROR_RATIO.format(window='30d')}{sel}", "SLI")],
                fieldConfig=percent,
                description=f"Share of {slo.sli}.",
            )
        )
        panels.append(
            _panel(
                pid + 1,
                "Error budget remaining (30 days)",
                "stat",
                {"h": 6, "w": 6, "x": 6, "y": y},
                [(f"1 - {ERROR_RATIO.format(window='30d')}{sel} / on(slo) {ERROR_BUDGET}{sel}", "budget left")],
                fieldConfig={
                    "defaults": {
                        "unit": "percentunit",
                        "decimals": 1,
                        "thresholds": {
                            "mode": "absolute",
                            "steps": [
                                {"color": "red", "value": None},
                                {"color": "orange", "value": 0},
                                {"color": "green", "value": 0.25},
                            ],
                        },
                    },
                    "overrides": [],
                },
            )
        )
        panels.append(
            _panel(
                pid + 2,
                "Burn rate (1 = the budget lasts exactly 30 days)",
                "timeseries",
                {"h": 6, "w": 12, "x": 12, "y": y},
                [
                    (f"{ERROR_RATIO.format(window=w)}{sel} / on(slo) {ERROR_BUDGET}{sel}", w)
                    for w in ("5m", "1h", "6h", "3d")
                ],
                fieldConfig={"defaults": {"unit": "none", "min": 0}, "overrides": []},
            )
        )
        pid, y = pid + 3, y + 6
    panels.append(
        _panel(
            pid,
            "Alerts firing",
            "table",
            {"h": 6, "w": 24, "x": 0, "y": y},
            [('ALERTS{alertname=~"LyceumSLO.*", alertstate="firing"}', "{{alertname}} {{slo}}")],
        )
    )
    return {
        "title": "Lyceum SLOs",
        "uid": "lyceum-slo",
        "tags": ["lyceum", "slo"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line PromQL as literal blocks (readable in review), and no anchors for repeated label maps."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def _yaml(document: dict[str, Any], header: str) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100_000, allow_unicode=True)
    return f"# Generated by deploy/prometheus/generate_rules.py ({header}); do not edit by hand.\n{body}"


def outputs() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {RULES_FILE: _yaml(rules_document(), "the SLO table: docs/slo.md")}
    for slo in SLOS:
        files[TESTS_DIR / f"{slo.name}.test.yml"] = _yaml(tests_document(slo), "promtool test rules")
    files[DASHBOARD_FILE] = json.dumps(dashboard(), indent=2) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file is not up to date")
    args = parser.parse_args(argv)
    stale = []
    for path, content in outputs().items():
        current = path.read_text() if path.exists() else None
        if current == content:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    for path in stale:
        print(f"out of date: {path} (run python deploy/prometheus/generate_rules.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
