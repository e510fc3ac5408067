"""content/seed.yaml ``passed:``: demo users' already-passed assessments (the spaced-review demo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.content.loader import ContentValidationError, load_seed_plan

ROOT = Path(__file__).resolve().parents[3]
SEED = """\
demo_password: long-enough
orgs:
  - slug: demo
    name: Demo
    users:
      - email: learner@demo.test
        name: Leo
        roles: [learner]
        passed:
          - {assessment: tiny-course/the-quiz, days_ago: 3}
          - {assessment: tiny-course/the-check}
    courses: [tiny-course]
"""


def _plan(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "seed.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_passed_assessments_are_read_with_a_default_age(tmp_path: Path) -> None:
    plan = load_seed_plan(_plan(tmp_path, SEED), known_courses={"tiny-course"})
    passed = plan.orgs[0].users[0].passed
    assert [(p.assessment, p.days_ago) for p in passed] == [("tiny-course/the-quiz", 3), ("tiny-course/the-check", 3)]


def test_a_pass_in_a_course_the_org_does_not_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ContentValidationError) as info:
        load_seed_plan(_plan(tmp_path, SEED.replace("tiny-course/the-check", "other-course/the-check")))
    [error] = info.value.errors
    assert error.path == "orgs[0].users[0].passed[1].assessment"
    assert "not in a course of org `demo`" in error.reason


@pytest.mark.parametrize("bad", ["the-quiz", "tiny-course/", "Tiny/Quiz"])
def test_a_pass_names_course_slash_item(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ContentValidationError):
        load_seed_plan(_plan(tmp_path, SEED.replace("tiny-course/the-quiz", bad)))


def test_the_shipped_demo_learner_has_passed_two_quizzes() -> None:
    plan = load_seed_plan(ROOT / "content" / "seed.yaml")
    leo = next(u for o in plan.orgs for u in o.users if u.email == "learner@demo.test")
    assert {p.assessment for p in leo.passed} == {
        "backend-foundations/auth-and-testing-check",
        "scalable-systems/observability-quiz",
    }
