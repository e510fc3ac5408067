"""Prompt experiments in a real browser (issue 17 item 2): from the admin overview an admin opens "Prompts and
experiments", sees the tutor prompt's versions, creates an experiment on one course at 0%, starts it (after a
confirmation), raises its rollout to 100%; a learner's tutor turn in that course is recorded in the variant's
arm; the results table shows control and the variant with their intervals; the admin stops it. Every step is
in the audit log.

The experiment varies nothing the learner sees (its only variant keeps the normal prompt version and the
ladder hint policy): other modules' tutor turns share the demo course. It is stopped at the end, also when the
test fails (at most one experiment may run per course)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import shot, sign_in
from tests.support.tutor_api import login, new_session

pytestmark = pytest.mark.e2e
BASE = "/v1/admin/experiments"


def _stop_if_running(base: str, admin: dict[str, str], key: str) -> None:
    for experiment in httpx.get(f"{base}{BASE}", headers=admin).json():
        if experiment["key"] == key and experiment["status"] == "running":
            httpx.post(f"{base}{BASE}/{experiment['id']}/stop", headers=admin)


def test_admin_runs_an_experiment_and_reads_its_results(page: Page, live_url: str) -> None:
    learner = login(live_url, "learner@demo.test")
    admin = login(live_url, "admin@demo.test")
    tutor = new_session(live_url, learner, mode="hint")
    key = f"e2e-{uuid.uuid4().hex[:8]}"

    sign_in(page, live_url, "admin@demo.test")
    page.get_by_role("link", name="Prompts and experiments").click()
    expect(page.get_by_role("heading", name="Prompts and experiments", exact=True)).to_be_visible()
    versions = page.get_by_test_id("prompt-versions")
    # The section holds the versions table and, once other tests have made tutor turns, the comparison
    # table: the versions table comes first (an idle fresh-clone run met both rows).
    expect(versions.get_by_role("rowheader", name="socratic-2026-11-a").first).to_be_visible()

    form = page.get_by_test_id("experiment-form")
    form.get_by_role("button", name="Create experiment").click()
    expect(form).to_contain_text("Required.")  # checked before it is sent
    form.get_by_label("Experiment key").fill(key)
    form.get_by_label("Description (optional)").fill("Browser test: records turns, changes nothing")
    form.get_by_label("Course").select_option(tutor["course_id"])
    form.get_by_label("Rollout (% of learners)").fill("0")
    variant = form.get_by_role("group", name="Variant 1")
    variant.get_by_label("Variant key").fill("arm-a")
    expect(variant.get_by_label("Prompt version")).to_have_value("")  # the usual assignment
    expect(variant.get_by_label("Hint policy")).to_have_value("ladder")
    form.get_by_role("button", name="Create experiment").click()

    item = page.get_by_test_id(f"experiment-{key}")
    expect(item).to_contain_text("Draft")
    expect(item.get_by_test_id("rollout")).to_have_text("0% of learners")
    try:
        item.get_by_role("button", name=f"Start {key}").click()
        dialog = page.get_by_role("dialog", name=f"Start {key}?")
        expect(dialog).to_contain_text("0% of the learners in")
        dialog.get_by_role("button", name="Start", exact=True).click()
        expect(item).to_contain_text("Running")
        expect(item.get_by_test_id("results-empty")).to_contain_text("No turns recorded yet.")

        item.get_by_role("button", name=f"Change rollout of {key}").click()
        item.get_by_label("Rollout (%)").fill("100")
        item.get_by_role("button", name="Save rollout").click()
        expect(item.get_by_test_id("rollout")).to_have_text("100% of learners")
        expect(page.get_by_test_id("experiments-status")).to_have_text(f"Rollout of {key} set to 100%.")

        # The learner asks for a hint in the course: at 100% the turn is in the variant's arm.
        answer = httpx.post(
            f"{live_url}/v1/tutor/sessions/{tutor['id']}/messages",
            headers=learner,
            json={"text": "Can I have a hint, please?", "mode": "hint"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["events"][-1]["type"] == "done", answer.text

        item.get_by_role("button", name=f"Refresh results of {key}").click()
        results = item.get_by_test_id("experiment-results")
        expect(results.get_by_role("table")).to_be_visible()
        expect(results.get_by_role("rowheader", name="control (usual tutor)")).to_be_visible()
        arm = results.get_by_role("row").filter(has=page.get_by_role("rowheader", name="arm-a", exact=True))
        expect(arm.get_by_role("cell").nth(1)).to_have_text("1")  # turns
        expect(arm.get_by_role("cell").nth(4)).to_have_text("100% (21\u2013100%)")  # hint escalation, Wilson 95%
        expect(results).to_contain_text("Hint escalation is the share of an arm's tutor turns")
        assert_accessible(page, "prompts and experiments page")
        shot(page, "experiments")

        item.get_by_role("button", name=f"Stop {key}").click()
        dialog = page.get_by_role("dialog", name=f"Stop {key}?")
        dialog.get_by_role("button", name="Stop", exact=True).click()
        expect(item).to_contain_text("Stopped")
        expect(item.get_by_role("button", name=f"Stop {key}")).to_have_count(0)
        expect(item.get_by_role("button", name=f"Change rollout of {key}")).to_have_count(0)
    finally:
        _stop_if_running(live_url, admin, key)

    experiment_id = next(e["id"] for e in httpx.get(f"{live_url}{BASE}", headers=admin).json() if e["key"] == key)
    for action in ("experiment.created", "experiment.started", "experiment.updated", "experiment.stopped"):
        audit = httpx.get(f"{live_url}/v1/audit-log", headers=admin, params={"action": action, "limit": 100})
        assert audit.status_code == 200, audit.text
        assert any(a["entity_id"] == experiment_id for a in audit.json()["items"]), action
