"""The SLO rules (docs/slo.md): generated from one table, valid for promtool, unit-tested by promtool, and
reading only metrics the application exports, checked on a real scrape after a tutor turn and a grade."""

from __future__ import annotations

import re
import subprocess
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.slo_rules import ROOT, RULES, exported_names, generator, lyceum_metrics, rules
from tests.support.grading import Client, assessment, assessment_spec, course_by_slug, new_learner
from tests.support.ops_tools import require_tool

_BUCKET = re.compile(r'(lyceum_[a-z0-9_]+_bucket)\{[^}]*le="([^"]+)"')
TESTS = sorted((ROOT / "deploy/prometheus/tests").glob("*.test.yml"))


def test_committed_files_are_the_generators_output() -> None:
    stale = [str(path) for path, content in generator().outputs().items() if path.read_text() != content]
    assert not stale, f"run python deploy/prometheus/generate_rules.py: {stale}"
    assert generator().main(["--check"]) == 0


def test_promtool_accepts_the_rules() -> None:
    promtool = require_tool("promtool")
    run = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"SUCCESS: {len(rules())} rules found" in run.stdout


@pytest.mark.slow
def test_promtool_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    run = subprocess.run(
        [promtool, "test", "rules", *map(str, TESTS)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("SUCCESS") == len(TESTS)


def test_every_alert_of_every_slo_is_tested_firing_and_quiet() -> None:
    gen = generator()
    assert {path.name for path in TESTS} == {f"{slo.name}.test.yml" for slo in gen.SLOS}
    for slo in gen.SLOS:
        cases = [case for test in gen.tests_document(slo)["tests"] for case in test["alert_rule_test"]]
        for alert in gen.ALERTS:
            mine = [case for case in cases if case["alertname"] == alert.name]
            assert any(case["exp_alerts"] for case in mine), (slo.name, alert.name, "never fires")
            assert any(not case["exp_alerts"] for case in mine), (slo.name, alert.name, "never quiet")


def test_alerts_are_labelled_with_severity_and_slo() -> None:
    alerts = [rule for rule in rules() if "alert" in rule]
    assert len(alerts) == len(generator().SLOS) * len(generator().ALERTS)
    for alert in alerts:
        assert alert["labels"]["severity"] in ("page", "ticket")
        assert alert["labels"]["slo"]
        assert alert["annotations"]["runbook_url"].startswith("docs/slo.md#")


def test_every_metric_the_rules_read_is_registered_by_the_app() -> None:
    used = set().union(*(lyceum_metrics(rule["expr"]) for rule in rules()))
    assert used, "the rules read no application metric"
    missing = used - exported_names()
    assert not missing, f"the rules read metrics the application does not export: {sorted(missing)}"


async def _tutor_turn(client: Client, headers: dict[str, str]) -> None:
    course = await course_by_slug(client, headers, "backend-foundations")
    item = next(i for m in course["modules"] for i in m["items"] if i["kind"] == "lesson")
    session = await client.post(
        "/v1/tutor/sessions", headers=headers, json={"course_id": course["id"], "item_id": item["id"]}
    )
    assert session.status_code == 201, session.text
    reply = await client.post(
        session.json()["messages_url"],
        headers={**headers, "Accept": "text/event-stream"},
        json={"text": "What should I focus on first?", "id": uuid.uuid4().hex},
    )
    assert reply.status_code == 200, reply.text
    assert "event: done" in reply.text, reply.text


async def _exact_grade(client: Client, headers: dict[str, str]) -> None:
    quiz = await assessment(client, headers, "http-fundamentals-quiz")
    choices = [q["answer"] for q in assessment_spec("http-fundamentals-quiz")["questions"]]
    accepted = await client.post(
        f"/v1/assessments/{quiz['id']}/submissions", headers=headers, json={"choices": choices}
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "graded"  # graded in the request (an exact answer)


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _scrape(client: Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return _samples(response.text)


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.slow
async def test_a_scrape_after_a_tutor_turn_and_a_grade_has_every_metric_the_rules_read(gclient: Client) -> None:
    before = await _scrape(gclient)
    headers = await new_learner(gclient)
    await _tutor_turn(gclient, headers)
    await _exact_grade(gclient, headers)
    after = await _scrape(gclient)
    scraped = {name for name, _ in after}
    used = set().union(*(lyceum_metrics(rule["expr"]) for rule in rules()))
    assert not used - scraped, f"not on /metrics: {sorted(used - scraped)}"
    # A bucket bound the rules select must be one the app writes, spelled the same ("60.0", never "60").
    for rule in rules():
        for bucket, le in _BUCKET.findall(rule["expr"]):
            assert any(name == bucket and ("le", le) in labels for name, labels in after), (bucket, le)
    # This process counted the turn and the grade it just served (other tests may add to them concurrently).
    turns = "lyceum_tutor_turns_total"
    assert _value(after, turns, outcome="completed") > _value(before, turns, outcome="completed")
    first = "lyceum_tutor_first_token_seconds_count"
    assert _value(after, first) > _value(before, first)
    graded = "lyceum_grading_duration_seconds_count"
    assert _value(after, graded, kind="multiple_choice") > _value(before, graded, kind="multiple_choice")
    outcomes = "lyceum_grading_outcomes_total"
    assert _value(after, outcomes, outcome="graded") > _value(before, outcomes, outcome="graded")
