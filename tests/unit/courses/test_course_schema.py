"""The course format: shipped content validates, every rule reports file + path + reason, code tasks are sound.

Pure Python: no database or Redis needed.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from app.content.loader import (
    ContentError,
    ContentValidationError,
    course_content_hash,
    load_course,
    load_courses,
    load_seed_plan,
    validate_path,
)
from app.content.schema import (
    HIDDEN_SPEC_KEYS,
    CodeAssessment,
    Course,
    MultipleChoiceAssessment,
    ShortAnswerAssessment,
)

CONTENT = Path(__file__).resolve().parents[3] / "content"
COURSES = CONTENT / "courses"
EXPECTED_COURSES = {"backend-foundations", "scalable-systems", "distributed-systems-lab", "acme-secure-coding"}


# =========================================================================== shipped content


def _shipped() -> list[Course]:
    return load_courses(COURSES)


def _code_assessments() -> list[tuple[str, CodeAssessment]]:
    return [
        (f"{course.slug}/{item.slug}", item.assessment)
        for course in _shipped()
        for _, item in course.all_items()
        if isinstance(item.assessment, CodeAssessment)
    ]


def test_shipped_content_validates() -> None:
    assert validate_path(CONTENT) == []
    assert validate_path(COURSES) == []
    assert validate_path(CONTENT / "seed.yaml") == []
    assert {course.slug for course in _shipped()} == EXPECTED_COURSES


@pytest.mark.parametrize("path", sorted(COURSES.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_course_file_validates_and_follows_the_authoring_guidelines(path: Path) -> None:
    course = load_course(path)
    assert path.stem == course.slug
    assert len(course.modules) == 3
    assert 3 <= len(course.competencies) <= 6
    kinds: set[str] = set()
    for module in course.modules:
        assert 3 <= len(module.items) <= 5, module.slug
        assert any(item.kind == "exercise" and item.solution.strip() for item in module.items), module.slug
        for item in module.items:
            if item.kind == "lesson":
                words = len(item.body.split())
                assert 150 <= words <= 400, f"{item.slug}: {words} words"
            if item.assessment is not None:
                kinds.add(item.assessment.kind)
    assert "code" in kinds
    assert kinds & {"multiple_choice", "short_answer"}
    # Every module after the first builds on an earlier module: a real pathway across modules.
    module_of = {item.slug: index for index, module in enumerate(course.modules) for item in module.items}
    for index, module in enumerate(course.modules[1:], start=1):
        assert any(module_of[prerequisite] < index for item in module.items for prerequisite in item.prerequisites), (
            module.slug
        )
    # Every competency is demonstrated by at least one assessment.
    assessed = {c for _, item in course.all_items() if item.kind == "assessment" for c in item.competencies}
    assert assessed == {competency.slug for competency in course.competencies}


def test_catalogue_mixes_assessment_types_and_bloom_levels() -> None:
    assessments = [item.assessment for course in _shipped() for _, item in course.all_items() if item.assessment]
    assert {a.kind for a in assessments} == {"multiple_choice", "short_answer", "code"}
    assert {a.graded for a in assessments} == {True, False}
    blooms = {item.bloom_level for course in _shipped() for _, item in course.all_items()}
    assert blooms == {"remember", "understand", "apply", "analyze", "evaluate", "create"}
    for assessment in assessments:
        if isinstance(assessment, ShortAnswerAssessment):
            assert assessment.rubric.exemplars
            assert assessment.rubric.max_points() > 0


def test_seed_plan() -> None:
    plan = load_seed_plan(CONTENT / "seed.yaml", known_courses={course.slug for course in _shipped()})
    orgs = {org.slug: org for org in plan.orgs}
    assert set(orgs) == {"demo", "acme"}
    assert plan.demo_password
    demo, acme = orgs["demo"], orgs["acme"]
    assert set(demo.courses) == {"backend-foundations", "scalable-systems", "distributed-systems-lab"}
    assert "acme-secure-coding" not in demo.courses
    assert "acme-secure-coding" in acme.courses
    assert set(acme.courses) - set(demo.courses)
    for org in plan.orgs:
        roles = {role for user in org.users for role in user.roles}
        assert roles == {"admin", "instructor", "learner"}
        assert all(user.email.endswith(f"@{org.slug}.test") for user in org.users)


def test_content_hash_is_stable_and_sensitive() -> None:
    course = load_course(COURSES / "backend-foundations.yaml")
    again = load_course(COURSES / "backend-foundations.yaml")
    digest = course_content_hash(course)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert course_content_hash(again) == digest
    edited = msgspec.structs.replace(course, title=course.title + "!")
    assert course_content_hash(edited) != digest


def test_learner_spec_hides_answers_and_tests() -> None:
    for course in _shipped():
        for _, item in course.all_items():
            if item.assessment is None:
                continue
            public = item.assessment.learner_spec()
            text = msgspec.json.encode(public).decode()
            for key in HIDDEN_SPEC_KEYS:
                assert f'"{key}"' not in text
            if isinstance(item.assessment, MultipleChoiceAssessment):
                assert all("answer" not in q for q in public["questions"])
                assert "questions" in item.assessment.spec()


# =========================================================================== code assessments


def _run_hidden_tests(tmp_path: Path, code: str, tests: str, time_limit: int) -> subprocess.CompletedProcess[str]:
    (tmp_path / "submission.py").write_text(code, encoding="utf-8")
    (tmp_path / "test_submission.py").write_text(tests, encoding="utf-8")
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=time_limit + 30,  # interpreter start-up on top of the learner's budget
        check=False,
    )


@pytest.mark.parametrize(("name", "assessment"), _code_assessments(), ids=lambda v: v if isinstance(v, str) else "")
def test_hidden_tests_pass_against_the_reference_solution(tmp_path: Path, name: str, assessment: Any) -> None:
    assert assessment.reference_solution.strip(), f"{name} has no reference_solution"
    result = _run_hidden_tests(
        tmp_path, assessment.reference_solution, assessment.hidden_tests, assessment.time_limit_seconds
    )
    assert result.returncode == 0, result.stdout + result.stderr
    duration = re.search(r"passed in ([0-9.]+)s", result.stdout)
    assert duration is not None, result.stdout
    assert float(duration.group(1)) < assessment.time_limit_seconds


@pytest.mark.parametrize(("name", "assessment"), _code_assessments(), ids=lambda v: v if isinstance(v, str) else "")
def test_hidden_tests_fail_against_the_starter_code(tmp_path: Path, name: str, assessment: Any) -> None:
    result = _run_hidden_tests(
        tmp_path, assessment.starter_code, assessment.hidden_tests, assessment.time_limit_seconds
    )
    assert result.returncode == 1, f"{name}: the starter code must not already pass\n{result.stdout}"


@pytest.mark.parametrize(("name", "assessment"), _code_assessments(), ids=lambda v: v if isinstance(v, str) else "")
def test_visible_tests_pass_against_the_reference_and_fail_against_the_starter(
    tmp_path: Path, name: str, assessment: Any
) -> None:
    """The tests a learner may run before submitting ("Run the visible tests") must agree with the task."""
    assert assessment.visible_tests.strip(), f"{name} has no visible_tests"
    passing = _run_hidden_tests(
        tmp_path, assessment.reference_solution, assessment.visible_tests, assessment.time_limit_seconds
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    failing = _run_hidden_tests(
        tmp_path, assessment.starter_code, assessment.visible_tests, assessment.time_limit_seconds
    )
    assert failing.returncode == 1, f"{name}: the starter code must not already pass\n{failing.stdout}"


# =========================================================================== broken fixtures

VALID_COURSE = """\
slug: tiny-course
title: Tiny course
summary: A minimal valid course used by the tests.
level: beginner
estimated_hours: 1
tags: [testing]
competencies:
  - slug: basics
    name: Basics
modules:
  - slug: first-module
    title: First module
    items:
      - slug: intro
        kind: lesson
        title: Intro
        bloom_level: understand
        competencies: [basics]
        body: Some text.
      - slug: practice
        kind: exercise
        title: Practice
        bloom_level: apply
        prerequisites: [intro]
        body: Do the thing.
        solution: The thing, done.
      - slug: quiz
        kind: assessment
        title: Quiz
        bloom_level: remember
        prerequisites: [practice]
        competencies: [basics]
        body: Answer the question.
        assessment:
          type: multiple_choice
          objectives: [Recall the basics]
          questions:
            - prompt: Pick B
              options: [A, B, C]
              answer: 1
  - slug: second-module
    title: Second module
    items:
      - slug: essay
        kind: assessment
        title: Essay
        bloom_level: evaluate
        prerequisites: [quiz]
        competencies: [basics]
        body: Write.
        assessment:
          type: short_answer
          graded: false
          objectives: [Argue a point]
          prompt: Argue.
          rubric:
            criteria:
              - name: Argument
                description: Is it argued?
                levels:
                  - {label: good, points: 2, description: Well argued.}
                  - {label: poor, points: 0, description: Not argued.}
            exemplars: [A fine argument.]
      - slug: coding
        kind: assessment
        title: Coding
        bloom_level: create
        prerequisites: [essay]
        competencies: [basics]
        body: Code.
        assessment:
          type: code
          objectives: [Write a function]
          prompt: Write double(x).
          starter_code: |
            def double(x):
                raise NotImplementedError
          entrypoint: double
          hidden_tests: |
            from submission import double

            def test_double():
                assert double(2) == 4
          reference_solution: |
            def double(x):
                return 2 * x
"""


def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(VALID_COURSE)
    return data


def _item(data: dict[str, Any], module: int, item: int) -> dict[str, Any]:
    found: dict[str, Any] = data["modules"][module]["items"][item]
    return found


def _write(tmp_path: Path, data: dict[str, Any] | str, name: str = "course.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _errors(path: Path) -> list[ContentError]:
    with pytest.raises(ContentValidationError) as info:
        load_course(path)
    assert info.value.errors == validate_path(path)
    return info.value.errors


def _only_error(path: Path) -> ContentError:
    errors = _errors(path)
    assert len(errors) == 1, "\n".join(map(str, errors))
    error = errors[0]
    assert error.file == str(path)
    assert str(error).startswith(f"{path}: {error.path}: {error.reason}")
    return error


def test_fixture_is_valid(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_COURSE)
    assert validate_path(path) == []
    course = load_course(path)
    assert course.slug == "tiny-course"
    assert [item.slug for _, item in course.all_items()] == ["intro", "practice", "quiz", "essay", "coding"]


def test_unknown_field(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 1)["titel"] = "typo"
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[1].titel"
    assert "unknown field `titel`" in error.reason
    assert "did you mean `title`" in error.reason
    assert error.line is not None


def test_unknown_root_field(tmp_path: Path) -> None:
    data = _data()
    data["author"] = "me"
    error = _only_error(_write(tmp_path, data))
    assert error.path == "author"
    assert "unknown field `author`" in error.reason


def test_wrong_type(tmp_path: Path) -> None:
    data = _data()
    data["estimated_hours"] = "forty"
    error = _only_error(_write(tmp_path, data))
    assert error.path == "estimated_hours"
    assert error.reason == "Expected `int`, got `str`"


def test_missing_required_field(tmp_path: Path) -> None:
    data = _data()
    del _item(data, 0, 0)["title"]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[0]"
    assert "missing required field `title`" in error.reason


def test_bad_bloom_level(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 0)["bloom_level"] = "memorize"
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[0].bloom_level"
    assert "'memorize'" in error.reason
    assert "remember, understand, apply, analyze, evaluate, create" in error.reason


def test_bad_slug(tmp_path: Path) -> None:
    data = _data()
    data["modules"][1]["slug"] = "Second Module"
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[1].slug"
    assert "'Second Module' is not a slug" in error.reason


def test_unknown_prerequisite(tmp_path: Path) -> None:
    data = _data()
    _item(data, 1, 0)["prerequisites"] = ["quizz"]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[1].items[0].prerequisites[0]"
    assert "unknown prerequisite `quizz`" in error.reason
    assert "did you mean `quiz`" in error.reason


def test_prerequisite_cycle_reports_the_path(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 0)["prerequisites"] = ["coding"]  # intro -> coding -> essay -> quiz -> practice -> intro
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[0].prerequisites"
    assert "prerequisite cycle: intro -> coding -> essay -> quiz -> practice -> intro" in error.reason


def test_self_prerequisite(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 0)["prerequisites"] = ["intro"]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[0].prerequisites[0]"
    assert "cannot require itself" in error.reason


def test_unknown_competency(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 0)["competencies"] = ["basic"]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[0].competencies[0]"
    assert "unknown competency `basic`" in error.reason


def test_unused_competency(tmp_path: Path) -> None:
    data = _data()
    data["competencies"].append({"slug": "advanced-stuff", "name": "Advanced stuff"})
    error = _only_error(_write(tmp_path, data))
    assert error.path == "competencies[1]"
    assert "`advanced-stuff` is declared but no item lists it" in error.reason


def test_duplicate_item_slug(tmp_path: Path) -> None:
    data = _data()
    _item(data, 1, 0)["slug"] = "intro"
    _item(data, 1, 1)["prerequisites"] = ["quiz"]
    errors = _errors(_write(tmp_path, data))
    duplicate = [e for e in errors if "duplicate item slug" in e.reason]
    assert len(duplicate) == 1
    assert duplicate[0].path == "modules[1].items[0].slug"
    assert "also at modules[0].items[0]" in duplicate[0].reason


def test_module_without_assessment(tmp_path: Path) -> None:
    data = _data()
    data["modules"].append(
        {
            "slug": "third-module",
            "title": "Third",
            "items": [{"slug": "more", "kind": "lesson", "title": "More", "bloom_level": "apply", "body": "x"}],
        }
    )
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[2].items"
    assert "module `third-module` has no assessment item" in error.reason


def test_answer_out_of_range(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 2)["assessment"]["questions"][0]["answer"] = 3
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[2].assessment.questions[0].answer"
    assert "answer index 3 is out of range" in error.reason
    assert "0 to 2" in error.reason


def test_too_few_options(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 2)["assessment"]["questions"][0]["options"] = ["only one"]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[2].assessment.questions[0].options"
    assert "length >= 2" in error.reason


def test_assessment_required_iff_kind_is_assessment(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 0)["assessment"] = copy.deepcopy(_item(data, 0, 2)["assessment"])
    del _item(data, 0, 2)["assessment"]
    errors = _errors(_write(tmp_path, data))
    by_path = {e.path: e.reason for e in errors}
    assert "only items with `kind: assessment` may have an `assessment`" in by_path["modules[0].items[0].assessment"]
    assert "needs an `assessment` section" in by_path["modules[0].items[2]"]


def test_assessment_types_forbid_each_others_fields(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 2)["assessment"]["rubric"] = _item(data, 1, 0)["assessment"]["rubric"]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[2].assessment.rubric"
    assert "not a field of a `multiple_choice` assessment" in error.reason


def test_assessment_type_requires_its_fields(tmp_path: Path) -> None:
    data = _data()
    del _item(data, 1, 1)["assessment"]["hidden_tests"]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[1].items[1].assessment"
    assert "missing required field `hidden_tests`" in error.reason


def test_unknown_assessment_type(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 2)["assessment"]["type"] = "essay"
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[2].assessment.type"
    assert "unknown assessment type 'essay'" in error.reason


@pytest.mark.parametrize("key", ["pass_mark", "confidence_threshold"])
def test_fractions_out_of_range(tmp_path: Path, key: str) -> None:
    data = _data()
    _item(data, 0, 2)["assessment"][key] = 1.5
    error = _only_error(_write(tmp_path, data))
    assert error.path == f"modules[0].items[2].assessment.{key}"
    assert "<= 1.0" in error.reason


def test_solution_only_on_exercises(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 0)["solution"] = "leaked"
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[0].solution"
    assert "only allowed on exercises" in error.reason


def test_exercise_needs_solution(tmp_path: Path) -> None:
    data = _data()
    del _item(data, 0, 1)["solution"]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[1]"
    assert "needs a `solution`" in error.reason


def test_short_answer_needs_exemplars_and_distinct_levels(tmp_path: Path) -> None:
    data = _data()
    rubric = _item(data, 1, 0)["assessment"]["rubric"]
    rubric["exemplars"] = []
    rubric["criteria"][0]["levels"][1]["points"] = 2
    errors = _errors(_write(tmp_path, data))
    by_path = {e.path: e.reason for e in errors}
    assert "at least one exemplar" in by_path["modules[1].items[0].assessment.rubric.exemplars"]
    assert "same points" in by_path["modules[1].items[0].assessment.rubric.criteria[0].levels"]


def test_rubric_needs_two_levels(tmp_path: Path) -> None:
    data = _data()
    levels = _item(data, 1, 0)["assessment"]["rubric"]["criteria"][0]["levels"]
    del levels[1]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[1].items[0].assessment.rubric.criteria[0].levels"
    assert "length >= 2" in error.reason


def test_code_assessment_static_checks(tmp_path: Path) -> None:
    data = _data()
    spec = _item(data, 1, 1)["assessment"]
    spec["hidden_tests"] = "def test_it():\n    assert double(2) == 4\n"
    spec["starter_code"] = "def triple(x):\n    pass\n"
    spec["reference_solution"] = "def double(x) return 2 * x\n"
    errors = _errors(_write(tmp_path, data))
    by_path = {e.path: e.reason for e in errors}
    base = "modules[1].items[1].assessment"
    assert "`from submission import double`" in by_path[f"{base}.hidden_tests"]
    assert "must define the entrypoint `double`" in by_path[f"{base}.starter_code"]
    assert "not valid Python" in by_path[f"{base}.reference_solution"]


def test_yaml_syntax_error_reports_the_line(tmp_path: Path) -> None:
    broken = VALID_COURSE.replace("        title: Practice\n", "        title: [Practice\n")
    path = _write(tmp_path, broken)
    error = _only_error(path)
    assert error.path == "$"
    assert error.reason.startswith("YAML syntax error at line")
    assert error.line is not None
    assert f"line {error.line}" in str(error)
    practice_line = broken.splitlines().index("        title: [Practice") + 1
    assert error.line >= practice_line


def test_yaml_indentation_error_reports_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "slug: tiny-course\n  title: Tiny\n")
    error = _only_error(path)
    assert error.line == 2
    assert "line 2" in error.reason


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_COURSE + "title: Again\n")
    error = _only_error(path)
    assert error.path == "title"
    assert "duplicate key `title`" in error.reason
    assert error.line == VALID_COURSE.count("\n") + 1


def test_empty_file(tmp_path: Path) -> None:
    error = _only_error(_write(tmp_path, ""))
    assert error.path == "$"
    assert error.reason == "file is empty"


def test_not_a_mapping(tmp_path: Path) -> None:
    error = _only_error(_write(tmp_path, "- just\n- a list\n"))
    assert error.path == "$"
    assert "Expected `object`, got `array`" in error.reason


def test_error_lines_point_into_the_document(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 2)["assessment"]["questions"][0]["answer"] = 9
    path = _write(tmp_path, data)
    error = _only_error(path)
    assert error.line is not None
    assert "answer: 9" in path.read_text().splitlines()[error.line - 1]


def test_load_courses_collects_errors_across_files(tmp_path: Path) -> None:
    good = _write(tmp_path, VALID_COURSE, "a-good.yaml")
    twin = _write(tmp_path, VALID_COURSE, "b-twin.yaml")
    bad = _data()
    bad["slug"] = "another-course"
    bad["level"] = "guru"
    broken = _write(tmp_path, bad, "c-bad.yaml")
    _write(tmp_path, "slug: [\n", "d-syntax.yaml")
    with pytest.raises(ContentValidationError) as info:
        load_courses(tmp_path)
    errors = info.value.errors
    assert [Path(e.file).name for e in errors] == ["b-twin.yaml", "c-bad.yaml", "d-syntax.yaml"]
    assert errors[0].path == "slug"
    assert f"already used by {good}" in errors[0].reason
    assert errors[0].file == str(twin)
    assert errors[1].file == str(broken)
    assert errors[1].path == "level"
    assert str(info.value).splitlines() == [str(e) for e in errors]
    assert validate_path(tmp_path) == errors


def test_load_courses_sorted_by_file_name(tmp_path: Path) -> None:
    second = _data()
    second["slug"] = "aaa-first-by-slug"
    _write(tmp_path, second, "z.yaml")
    _write(tmp_path, VALID_COURSE, "a.yaml")
    assert [c.slug for c in load_courses(tmp_path)] == ["tiny-course", "aaa-first-by-slug"]


def test_validate_path_edge_cases(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert validate_path(missing) == [ContentError(str(missing), "$", "no such file or directory")]
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    [error] = validate_path(empty_dir)
    assert "no course files" in error.reason


# =========================================================================== seed plan

VALID_SEED = """\
demo_password: long-enough
orgs:
  - slug: demo
    name: Demo
    users:
      - {email: admin@demo.test, name: Admin, roles: [admin]}
    courses: [tiny-course]
"""


def test_seed_plan_validates(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_SEED, "seed.yaml")
    plan = load_seed_plan(path, known_courses={"tiny-course"})
    assert plan.orgs[0].users[0].roles == ["admin"]


def test_seed_plan_unknown_course(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_SEED, "seed.yaml")
    with pytest.raises(ContentValidationError) as info:
        load_seed_plan(path, known_courses={"tiny-course-2"})
    [error] = info.value.errors
    assert error.path == "orgs[0].courses[0]"
    assert "unknown course `tiny-course`" in error.reason


def test_seed_plan_bad_role(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_SEED.replace("[admin]", "[root]"), "seed.yaml")
    with pytest.raises(ContentValidationError) as info:
        load_seed_plan(path)
    [error] = info.value.errors
    assert error.path == "orgs[0].users[0].roles[0]"
    assert "admin, instructor, learner" in error.reason


def test_seed_plan_checked_against_sibling_courses(tmp_path: Path) -> None:
    (tmp_path / "courses").mkdir()
    _write(tmp_path / "courses", VALID_COURSE, "tiny-course.yaml")
    seed = _write(tmp_path, VALID_SEED.replace("[tiny-course]", "[tiny-course, ghost-course]"), "seed.yaml")
    for target in (tmp_path, seed):
        [error] = validate_path(target)
        assert error.file == str(seed)
        assert error.path == "orgs[0].courses[1]"


# =========================================================================== tutoring material (issue 10 §1)


def test_every_shipped_item_has_a_hint_ladder_and_misconceptions() -> None:
    for course in _shipped():
        for _, item in course.all_items():
            assert len(item.hints) >= 3, f"{course.slug}/{item.slug}"
            assert item.misconceptions, f"{course.slug}/{item.slug}"
            for misconception in item.misconceptions:
                assert all(re.compile(p, re.IGNORECASE) for p in misconception.patterns)


def test_hints_and_misconceptions_load(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 1)["hints"] = ["Start small.", "Then do the next thing."]
    _item(data, 0, 1)["misconceptions"] = [
        {"patterns": [r"\bthing\b.*\bundone"], "correction": "The thing must be done.", "check": "Is it done?"}
    ]
    item = load_course(_write(tmp_path, data)).modules[0].items[1]
    assert item.hints == ["Start small.", "Then do the next thing."]
    assert item.misconceptions[0].correction == "The thing must be done."
    assert item.misconceptions[0].check == "Is it done?"


def test_misconception_pattern_must_be_a_regular_expression(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 0)["misconceptions"] = [{"patterns": ["(unclosed"], "correction": "No."}]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[0].misconceptions[0].patterns[0]"
    assert "regular expression" in error.reason


def test_misconception_needs_a_pattern_and_a_correction(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 0)["misconceptions"] = [{"patterns": [], "correction": "No."}]
    assert _errors(_write(tmp_path, data))
    _item(data, 0, 0)["misconceptions"] = [{"patterns": ["x"], "corection": "typo"}]
    assert _errors(_write(tmp_path, data))


def test_tutoring_text_must_not_quote_a_solution_or_an_answer_key(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 1)["solution"] = "Open the valve slowly, then check the pressure gauge twice."
    _item(data, 0, 0)["hints"] = ["Remember: open the valve slowly, then check the pressure gauge."]
    assert validate_path(_write(tmp_path, data)) == []  # an ungraded exercise's solution binds only itself
    _item(data, 0, 0)["hints"] = ["Look at the valve."]
    _item(data, 0, 1)["hints"] = ["Remember: open the valve slowly, then check the pressure gauge."]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[1].hints[0]"
    assert "must not quote" in error.reason

    _item(data, 0, 1)["hints"] = []
    _item(data, 0, 0)["misconceptions"] = [
        {"patterns": ["a"], "correction": "The answer to the quiz: Pick B, it is B."}
    ]
    _item(data, 0, 2)["assessment"]["questions"][0]["options"][1] = "B, because the thirty characters here matter"
    _item(data, 0, 0)["misconceptions"][0]["correction"] = "No: B, because the thirty characters here matter."
    error = _only_error(_write(tmp_path, data))  # a graded item's answer key binds the whole course
    assert error.path == "modules[0].items[0].misconceptions[0].correction"


# --------------------------------------------------------------------------- mastery and gates (issue 12)


def test_competency_gate_and_bkt_parameters_load(tmp_path: Path) -> None:
    data = _data()
    slug = data["competencies"][0]["slug"]
    data["competencies"][0]["bkt"] = {"prior": 0.3, "learn": 0.1, "guess": 0.25}
    _item(data, 0, 2)["requires"] = [{"competency": slug, "mastery": 0.6}]
    course = load_course(_write(tmp_path, data))
    assert course.competencies[0].bkt.prior == 0.3
    assert course.competencies[0].bkt.guess == 0.25
    assert course.competencies[0].bkt.slip == 0.1  # the documented default
    gate = course.modules[0].items[2].requires[0]
    assert (gate.competency, gate.mastery) == (slug, 0.6)


def test_gate_on_an_unknown_competency_names_file_and_path(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 2)["requires"] = [{"competency": "nowhere", "mastery": 0.5}]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[2].requires[0].competency"
    assert "unknown competency `nowhere` in a gate" in error.reason


def test_gate_listed_twice(tmp_path: Path) -> None:
    data = _data()
    slug = data["competencies"][0]["slug"]
    _item(data, 0, 2)["requires"] = [{"competency": slug, "mastery": 0.5}, {"competency": slug, "mastery": 0.7}]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[2].requires[1].competency"
    assert "gated twice" in error.reason


def test_gate_threshold_is_a_fraction(tmp_path: Path) -> None:
    data = _data()
    _item(data, 0, 2)["requires"] = [{"competency": data["competencies"][0]["slug"], "mastery": 1.5}]
    error = _only_error(_write(tmp_path, data))
    assert error.path == "modules[0].items[2].requires[0].mastery"
    assert "<= 1.0" in error.reason


@pytest.mark.parametrize("key", ["slip", "guess"])
def test_slip_and_guess_stay_below_one_half(tmp_path: Path, key: str) -> None:
    data = _data()
    data["competencies"][0]["bkt"] = {key: 0.5}
    error = _only_error(_write(tmp_path, data))
    assert error.path == f"competencies[0].bkt.{key}"
    assert "< 0.5" in error.reason
