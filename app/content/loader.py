"""Load and validate course files (``content/courses/*.yaml``) and the seed plan (``content/seed.yaml``).

Validation runs in two stages. First the YAML is parsed (syntax errors and duplicate keys are
reported with their line) and decoded into the msgspec Structs of ``schema.py``, which checks shape,
types, enums and ranges. Then the cross-field rules below run on the decoded course. Every problem
becomes a :class:`ContentError` naming the file, the location inside the document
(``modules[1].items[3].bloom_level``, ``$`` for the root) and the reason.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import math
import re
import sys
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from app.content.schema import (
    ASSESSMENT_TYPES,
    BLOOM_LEVELS,
    CODE_LANGUAGES,
    EMAIL_PATTERN,
    IDENTIFIER_PATTERN,
    ITEM_KINDS,
    LEVELS,
    ORG_SLUG_PATTERN,
    ROLES,
    SLUG_PATTERN,
    CodeAssessment,
    Course,
    CourseCredential,
    Item,
    MultipleChoiceAssessment,
    Rubric,
    SeedPlan,
    ShortAnswerAssessment,
)
from app.lib.yamlspec import (
    Document,
    Segments,
    Spec,
    SpecError,
    TextLimits,
    decode,
    did_you_mean,
    load_document,
    parse_text,
    report_problems,
)

SEED_FILE_NAME = "seed.yaml"
COURSE_GLOB = "*.yaml"


# One problem in a course or seed file (``line`` is 1-based when known); the shared loader's error type.
ContentError = SpecError


class ContentValidationError(Exception):
    """Raised by the ``load_*`` functions; ``errors`` holds every problem found."""

    def __init__(self, errors: Sequence[ContentError]) -> None:
        self.errors: list[ContentError] = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


# =========================================================================== msgspec decoding

_BAD_TAG = re.compile(r"^Invalid value (?P<value>.*)$")


def _explain_assessment(root: type, data: Any, segments: Segments, reason: str) -> tuple[Segments, str] | None:
    """The assessment's ``type`` tag: name the allowed types."""
    last = segments[-1] if segments else None
    bad_tag = _BAD_TAG.match(reason)
    if bad_tag and last == "type":
        return segments, f"unknown assessment type {bad_tag.group('value')} (allowed: {', '.join(ASSESSMENT_TYPES)})"
    if reason == "Object missing required field `type`" and last == "assessment":
        return segments, f"{reason} (one of: {', '.join(ASSESSMENT_TYPES)})"
    return None


_SPEC = Spec(
    noun="field",
    allowed="this object allows:",
    tag_noun="assessment",
    choices={
        "level": LEVELS,
        "kind": ITEM_KINDS,
        "bloom_level": BLOOM_LEVELS,
        "language": CODE_LANGUAGES,
        "roles": ROLES,
    },
    patterns={
        SLUG_PATTERN: "a slug: 2-99 characters, lower-case letters, digits and dashes, not starting with a dash",
        ORG_SLUG_PATTERN: "an org slug: 2-63 characters, lower-case letters, digits and dashes, "
        "not starting with a dash",
        EMAIL_PATTERN: "a lower-case email address",
        IDENTIFIER_PATTERN: "a Python identifier (letters, digits and underscores, not starting with a digit)",
    },
    explain=_explain_assessment,
)


# =========================================================================== course rules


class _Report:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.errors: list[ContentError] = []

    def add(self, path: str, reason: str) -> None:
        self.errors.append(self.document.error(path, reason))


def _duplicates(values: Sequence[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield index, value
        seen.add(value)


def _check_course(course: Course, report: _Report) -> None:
    competency_slugs = [competency.slug for competency in course.competencies]
    for index, slug in _duplicates(competency_slugs):
        report.add(f"competencies[{index}].slug", f"duplicate competency slug `{slug}`")
    for index, slug in _duplicates([module.slug for module in course.modules]):
        report.add(f"modules[{index}].slug", f"duplicate module slug `{slug}`")
    for index, tag in _duplicates(course.tags):
        report.add(f"tags[{index}]", f"duplicate tag `{tag}`")

    # Answer keys and solutions of the course's graded items: no tutoring text anywhere may quote them
    # (the tutor's output filter compares every reply in the course against them).
    course_protected = [
        text
        for _, item in course.all_items()
        if item.assessment is not None and item.assessment.graded
        for text in _protected(item)
    ]
    item_paths: dict[str, str] = {}
    for m_index, module in enumerate(course.modules):
        for i_index, item in enumerate(module.items):
            path = f"modules[{m_index}].items[{i_index}]"
            if item.slug in item_paths:
                report.add(f"{path}.slug", f"duplicate item slug `{item.slug}` (also at {item_paths[item.slug]})")
            else:
                item_paths[item.slug] = path

    known_competencies = set(competency_slugs)
    used_competencies: set[str] = set()
    for m_index, module in enumerate(course.modules):
        module_path = f"modules[{m_index}]"
        if not any(item.kind == "assessment" for item in module.items):
            report.add(
                f"{module_path}.items",
                f"module `{module.slug}` has no assessment item; every module needs at least one item "
                "with `kind: assessment`",
            )
        for i_index, item in enumerate(module.items):
            path = f"{module_path}.items[{i_index}]"
            for p_index, prerequisite in enumerate(item.prerequisites):
                if prerequisite == item.slug:
                    report.add(f"{path}.prerequisites[{p_index}]", f"item `{item.slug}` cannot require itself")
                elif prerequisite not in item_paths:
                    report.add(
                        f"{path}.prerequisites[{p_index}]",
                        f"unknown prerequisite `{prerequisite}`: no item with that slug in this course"
                        + did_you_mean(prerequisite, item_paths),
                    )
            for p_index, prerequisite in _duplicates(item.prerequisites):
                report.add(f"{path}.prerequisites[{p_index}]", f"prerequisite `{prerequisite}` is listed twice")
            for c_index, competency in enumerate(item.competencies):
                if competency not in known_competencies:
                    report.add(
                        f"{path}.competencies[{c_index}]",
                        f"unknown competency `{competency}`: declare it under the course's `competencies`"
                        + did_you_mean(competency, known_competencies),
                    )
                used_competencies.add(competency)
            for c_index, competency in _duplicates(item.competencies):
                report.add(f"{path}.competencies[{c_index}]", f"competency `{competency}` is listed twice")
            for r_index, requirement in enumerate(item.requires):
                if requirement.competency not in known_competencies:
                    report.add(
                        f"{path}.requires[{r_index}].competency",
                        f"unknown competency `{requirement.competency}` in a gate: declare it under the "
                        "course's `competencies`" + did_you_mean(requirement.competency, known_competencies),
                    )
            for r_index, competency in _duplicates([r.competency for r in item.requires]):
                report.add(f"{path}.requires[{r_index}].competency", f"competency `{competency}` is gated twice")
            _check_item(item.kind, item.solution, item.assessment, path, report)
            _check_tutoring(item, path, report, course_protected)

    for index, slug in enumerate(competency_slugs):
        if slug not in used_competencies:
            report.add(
                f"competencies[{index}]",
                f"competency `{slug}` is declared but no item lists it under `competencies`",
            )
    _check_cycles(course, item_paths, report)


def _check_item(kind: str, solution: str, assessment: Any, path: str, report: _Report) -> None:
    if kind == "assessment" and assessment is None:
        report.add(path, "an item with `kind: assessment` needs an `assessment` section")
    if kind != "assessment" and assessment is not None:
        report.add(
            f"{path}.assessment", f"only items with `kind: assessment` may have an `assessment` (this is a {kind})"
        )
    if solution.strip() and kind != "exercise":
        report.add(f"{path}.solution", f"`solution` is only allowed on exercises (this is a {kind})")
    if kind == "exercise" and not solution.strip():
        report.add(path, "an exercise needs a `solution` (the worked answer graders and the tutor use)")
    if assessment is None:
        return
    apath = f"{path}.assessment"
    for key in ("pass_mark", "confidence_threshold"):
        value = getattr(assessment, key)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            report.add(f"{apath}.{key}", f"`{key}` must be a fraction between 0 and 1, got {value}")
    if isinstance(assessment, MultipleChoiceAssessment):
        for q_index, question in enumerate(assessment.questions):
            qpath = f"{apath}.questions[{q_index}]"
            if not 0 <= question.answer < len(question.options):
                report.add(
                    f"{qpath}.answer",
                    f"answer index {question.answer} is out of range: the question has {len(question.options)} "
                    f"options, so use 0 to {len(question.options) - 1} (counting from 0)",
                )
            for o_index, option in _duplicates(question.options):
                report.add(f"{qpath}.options[{o_index}]", f"option {option!r} appears twice")
    elif isinstance(assessment, ShortAnswerAssessment):
        _check_rubric(assessment.rubric, f"{apath}.rubric", report)
        if not assessment.rubric.exemplars:
            report.add(f"{apath}.rubric.exemplars", "a short-answer rubric needs at least one exemplar answer")
    elif isinstance(assessment, CodeAssessment):
        _check_code(assessment, apath, report)


TUTORING_WINDOW = 30  # characters a hint or correction may share with a solution or answer key


def _protected(item: Item) -> list[str]:
    texts = [item.solution] if item.solution.strip() else []
    assessment = item.assessment
    if isinstance(assessment, MultipleChoiceAssessment):
        texts += [q.options[q.answer] for q in assessment.questions if 0 <= q.answer < len(q.options)]
    if isinstance(assessment, CodeAssessment):
        texts += [assessment.reference_solution, assessment.hidden_tests]
    rubric = getattr(assessment, "rubric", None)
    if rubric is not None:
        texts += list(rubric.exemplars)
    return [t for t in texts if t.strip()]


def _shares_window(text: str, protected: list[str]) -> bool:
    folded = " ".join(text.split()).casefold()
    for other in protected:
        other = " ".join(other.split()).casefold()
        if len(other) < TUTORING_WINDOW:
            continue
        windows = {other[i : i + TUTORING_WINDOW] for i in range(len(other) - TUTORING_WINDOW + 1)}
        if any(folded[i : i + TUTORING_WINDOW] in windows for i in range(len(folded) - TUTORING_WINDOW + 1)):
            return True
    return False


def _check_tutoring(item: Item, path: str, report: _Report, course_protected: list[str]) -> None:
    """Hints and misconceptions: patterns must compile, and no text may quote the item's solution or answer
    key, nor those of any graded item of the course."""
    protected = _protected(item) + course_protected
    for h_index, hint in enumerate(item.hints):
        if _shares_window(hint, protected):
            report.add(f"{path}.hints[{h_index}]", "a hint must not quote the solution or answer key")
    for m_index, misconception in enumerate(item.misconceptions):
        mpath = f"{path}.misconceptions[{m_index}]"
        for p_index, pattern in enumerate(misconception.patterns):
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                report.add(f"{mpath}.patterns[{p_index}]", f"not a valid regular expression: {exc}")
        for key in ("correction", "check"):
            if _shares_window(getattr(misconception, key), protected):
                report.add(f"{mpath}.{key}", f"a misconception's `{key}` must not quote the solution or answer key")


def _check_rubric(rubric: Rubric, path: str, report: _Report) -> None:
    for c_index, name in _duplicates([criterion.name for criterion in rubric.criteria]):
        report.add(f"{path}.criteria[{c_index}].name", f"duplicate criterion name {name!r}")
    for c_index, criterion in enumerate(rubric.criteria):
        levels = criterion.levels
        for l_index, label in _duplicates([level.label for level in levels]):
            report.add(f"{path}.criteria[{c_index}].levels[{l_index}].label", f"duplicate level label {label!r}")
        if len({level.points for level in levels}) < 2:
            report.add(f"{path}.criteria[{c_index}].levels", "levels must not all be worth the same points")


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


def _parse_python(source: str, path: str, report: _Report) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        report.add(path, f"not valid Python: {exc.msg} (line {exc.lineno} of the block)")
        return None


def _check_code(assessment: CodeAssessment, path: str, report: _Report) -> None:
    entry = assessment.entrypoint
    starter = _parse_python(assessment.starter_code, f"{path}.starter_code", report)
    if starter is not None and entry not in _top_level_names(starter):
        report.add(f"{path}.starter_code", f"the starter code must define the entrypoint `{entry}`")
    if assessment.reference_solution.strip():
        reference = _parse_python(assessment.reference_solution, f"{path}.reference_solution", report)
        if reference is not None and entry not in _top_level_names(reference):
            report.add(f"{path}.reference_solution", f"the reference solution must define the entrypoint `{entry}`")
    tests = _parse_python(assessment.hidden_tests, f"{path}.hidden_tests", report)
    if tests is not None:
        if not any(isinstance(node, ast.FunctionDef) and node.name.startswith("test_") for node in tests.body):
            report.add(f"{path}.hidden_tests", "hidden tests need at least one top-level `def test_...():` function")
        imports_entry = any(
            isinstance(node, ast.ImportFrom)
            and node.module == "submission"
            and any(alias.name in (entry, "*") for alias in node.names)
            for node in ast.walk(tests)
        )
        if not imports_entry:
            report.add(
                f"{path}.hidden_tests",
                f"hidden tests must import the entrypoint with `from submission import {entry}`",
            )
    if assessment.visible_tests.strip():
        visible = _parse_python(assessment.visible_tests, f"{path}.visible_tests", report)
        if visible is not None and not any(
            isinstance(node, ast.FunctionDef) and node.name.startswith("test_") for node in visible.body
        ):
            report.add(f"{path}.visible_tests", "visible tests need at least one top-level `def test_...():` function")
    if assessment.rubric is not None:
        _check_rubric(assessment.rubric, f"{path}.rubric", report)


def _check_cycles(course: Course, item_paths: dict[str, str], report: _Report) -> None:
    graph = {
        item.slug: [p for p in item.prerequisites if p in item_paths and p != item.slug]
        for _, item in course.all_items()
    }
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(slug: str) -> None:
        state[slug] = 1
        stack.append(slug)
        for prerequisite in graph.get(slug, []):
            if state.get(prerequisite) == 1:
                cycle = [*stack[stack.index(prerequisite) :], prerequisite]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    start = cycle[0]
                    report.add(
                        f"{item_paths[start]}.prerequisites",
                        "prerequisite cycle: " + " -> ".join(cycle) + " (each item requires the next one)",
                    )
            elif prerequisite not in state:
                visit(prerequisite)
        stack.pop()
        state[slug] = 2

    for slug in graph:
        if slug not in state:
            visit(slug)


# =========================================================================== the credential block

CREDENTIAL_IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
CREDENTIAL_IMAGE_MAX_BYTES = 256 * 1024


def default_criteria(title: str) -> str:
    """The criteria narrative of a course whose file names none."""
    return f"Completed every item of {title}, including its assessments."


def _image_path(base_dir: Path, image: str) -> Path | None:
    """The file a relative ``image`` names, or None when it would leave ``base_dir``."""
    candidate = (base_dir / image).resolve()
    return candidate if candidate.is_relative_to(base_dir.resolve()) else None


def _check_credential(credential: CourseCredential | None, base_dir: Path | None, report: _Report) -> None:
    """``base_dir`` is the course file's directory; None for a course written in the browser, which has no
    directory, so its image must be a URL."""
    if credential is None:
        return
    if credential.criteria and not credential.criteria.strip():
        report.add("credential.criteria", "criteria must say how the credential is earned (or leave it out)")
    image = credential.image.strip()
    if not image:
        return
    parts = urlsplit(image)
    if parts.scheme in ("http", "https"):
        if not parts.netloc:
            report.add("credential.image", f"the image URL {image!r} has no host")
        return
    if parts.scheme:
        report.add("credential.image", "the image is an http(s) URL or a path relative to the course file")
        return
    if base_dir is None:
        report.add("credential.image", "a course written in the browser names its image by an http(s) URL")
        return
    path = _image_path(base_dir, image)
    suffixes = ", ".join(CREDENTIAL_IMAGE_TYPES)
    if path is None:
        report.add("credential.image", f"the image path {image!r} leaves the course's directory")
    elif path.suffix.lower() not in CREDENTIAL_IMAGE_TYPES:
        report.add("credential.image", f"the image must be one of: {suffixes} (got {path.name!r})")
    elif not path.is_file():
        report.add("credential.image", f"no image file {image!r} next to the course file")
    elif path.stat().st_size > CREDENTIAL_IMAGE_MAX_BYTES:
        report.add("credential.image", f"the image is larger than {CREDENTIAL_IMAGE_MAX_BYTES // 1024} KB")


def credential_of(course: Course, base_dir: Path | None) -> dict[str, Any]:
    """What issuing needs from the course file, as stored in ``courses.extra["credential"]``: the criteria
    narrative (the default when none is given), the image as a URL (a file is embedded as a data URL, so a
    credential names no address of this server that could move) or "" for the generated badge, and
    ``valid_for_days`` (None: no expiry). The loader has already checked the image."""
    spec = course.credential or CourseCredential()
    image = spec.image.strip()
    if image and not urlsplit(image).scheme:
        path = _image_path(base_dir, image) if base_dir is not None else None
        if path is None or not path.is_file():  # validated on load; a file removed since: the default badge
            image = ""
        else:
            data = base64.b64encode(path.read_bytes()).decode()
            image = f"data:{CREDENTIAL_IMAGE_TYPES[path.suffix.lower()]};base64,{data}"
    return {
        "criteria": spec.criteria.strip() or default_criteria(course.title),
        "image": image,
        "valid_for_days": spec.valid_for_days,
    }


# =========================================================================== seed plan rules


def _check_seed(plan: SeedPlan, report: _Report, known_courses: Collection[str] | None) -> None:
    for index, slug in _duplicates([org.slug for org in plan.orgs]):
        report.add(f"orgs[{index}].slug", f"duplicate org slug `{slug}`")
    names: dict[str, tuple[str, str]] = {}
    for o_index, org in enumerate(plan.orgs):
        opath = f"orgs[{o_index}]"
        for u_index, email in _duplicates([user.email for user in org.users]):
            report.add(f"{opath}.users[{u_index}].email", f"user {email} is listed twice in org `{org.slug}`")
        for u_index, user in enumerate(org.users):
            for r_index, role in _duplicates(list(user.roles)):
                report.add(f"{opath}.users[{u_index}].roles[{r_index}]", f"role `{role}` is listed twice")
            previous = names.setdefault(user.email, (user.name, org.slug))
            if previous[0] != user.name:
                report.add(
                    f"{opath}.users[{u_index}].name",
                    f"user {user.email} is named {previous[0]!r} in org `{previous[1]}`; one person has one name",
                )
            for c_index, slug in enumerate(user.completed):
                if slug not in org.courses:
                    report.add(
                        f"{opath}.users[{u_index}].completed[{c_index}]",
                        f"course `{slug}` is not loaded into `{org.slug}`",
                    )
            for p_index, done in enumerate(user.passed):
                if done.assessment.split("/", 1)[0] not in org.courses:
                    report.add(
                        f"{opath}.users[{u_index}].passed[{p_index}].assessment",
                        f"`{done.assessment}` is not in a course of org `{org.slug}`",
                    )
        for c_index, slug in _duplicates(org.courses):
            report.add(f"{opath}.courses[{c_index}]", f"course `{slug}` is listed twice")
        emails = {user.email for user in org.users}
        for a_index, activity in enumerate(org.activity):
            if activity.learner not in emails:
                report.add(f"{opath}.activity[{a_index}].learner", f"{activity.learner} is not a user of `{org.slug}`")
            if activity.course not in org.courses:
                report.add(
                    f"{opath}.activity[{a_index}].course", f"course `{activity.course}` is not loaded into `{org.slug}`"
                )
        if known_courses is not None:
            for c_index, slug in enumerate(org.courses):
                if slug not in known_courses:
                    report.add(
                        f"{opath}.courses[{c_index}]",
                        f"unknown course `{slug}`: no course file has this slug" + did_you_mean(slug, known_courses),
                    )


# =========================================================================== public API


def _parse_course(path: Path) -> tuple[Course | None, list[ContentError]]:
    """Decode and check one course file. The course is returned whenever it decoded, even with rule errors."""
    course, document, errors = load_document(path, Course, _SPEC)
    if course is None or document is None:
        return None, errors
    checks = _Report(document)
    _check_course(course, checks)
    _check_credential(course.credential, path.parent, checks)
    return course, sorted(checks.errors, key=lambda error: error.line or 0)


def parse_course_text(
    raw: bytes | str, name: str = "course.yaml", limits: TextLimits = TextLimits()
) -> tuple[Course | None, list[ContentError]]:
    """Decode and check a course received as text (the browser editor): the same rules as a course file
    (``lyceum courses validate``), after the untrusted-text refusals of :func:`app.lib.yamlspec.parse_text`.
    The course is returned whenever it decoded, even with rule errors; a credential image must be a URL."""
    document, errors = parse_text(raw, name, limits)
    if document is None:
        return None, errors
    course, errors = decode(document, Course, _SPEC)
    if course is None:
        return None, errors
    checks = _Report(document)
    _check_course(course, checks)
    _check_credential(course.credential, None, checks)
    return course, sorted(checks.errors, key=lambda error: error.line or 0)


def _course_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob(COURSE_GLOB) if p.is_file())


def _collect_courses(directory: Path) -> tuple[list[Course], list[ContentError]]:
    if not directory.is_dir():
        return [], [ContentError(str(directory), "$", "not a directory")]
    courses: list[Course] = []
    errors: list[ContentError] = []
    owners: dict[str, str] = {}
    for file in _course_files(directory):
        course, file_errors = _parse_course(file)
        errors += file_errors
        if course is None:
            continue
        if course.slug in owners:
            errors.append(
                ContentError(
                    str(file), "slug", f"course slug `{course.slug}` is already used by {owners[course.slug]}", None
                )
            )
        else:
            owners[course.slug] = str(file)
        courses.append(course)
    return courses, errors


def load_course(path: Path) -> Course:
    """Load one course file; raises :class:`ContentValidationError` listing every problem."""
    course, errors = _parse_course(path)
    if errors or course is None:
        raise ContentValidationError(errors)
    return course


def load_courses(directory: Path) -> list[Course]:
    """Load every ``*.yaml`` of ``directory`` (sorted by file name), collecting errors across all files."""
    courses, errors = _collect_courses(directory)
    if errors:
        raise ContentValidationError(errors)
    return courses


def load_seed_plan(path: Path, *, known_courses: Collection[str] | None = None) -> SeedPlan:
    """Load ``content/seed.yaml``. With ``known_courses``, every course slug it names must be among them."""
    plan, errors = _parse_seed(path, known_courses)
    if errors or plan is None:
        raise ContentValidationError(errors)
    return plan


def _parse_seed(path: Path, known_courses: Collection[str] | None) -> tuple[SeedPlan | None, list[ContentError]]:
    plan, document, errors = load_document(path, SeedPlan, _SPEC)
    if plan is None or document is None:
        return None, errors
    checks = _Report(document)
    _check_seed(plan, checks, known_courses)
    return plan, checks.errors


def validate_path(path: Path) -> list[ContentError]:
    """Every problem in a course file, a directory of course files, a seed file or a content directory.

    * a directory with a ``courses/`` subdirectory (e.g. ``content``): its courses plus its ``seed.yaml``;
    * any other directory (e.g. ``content/courses``): each ``*.yaml`` in it is a course;
    * a file named ``seed.yaml``: the seed plan (course slugs checked against a sibling ``courses/``);
    * any other file: one course.
    """
    if not path.exists():
        return [ContentError(str(path), "$", "no such file or directory")]
    if path.is_dir():
        course_dir = path / "courses" if (path / "courses").is_dir() else path
        if not _course_files(course_dir):
            return [ContentError(str(course_dir), "$", f"no course files ({COURSE_GLOB}) in this directory")]
        courses, errors = _collect_courses(course_dir)
        seed = path / SEED_FILE_NAME
        if course_dir != path and seed.is_file():
            errors += _parse_seed(seed, {course.slug for course in courses})[1]
        return errors
    if path.name == SEED_FILE_NAME:
        sibling = path.parent / "courses"
        known = {c.slug for c in _collect_courses(sibling)[0]} if sibling.is_dir() else None
        return _parse_seed(path, known)[1]
    return _parse_course(path)[1]


_hash_encoder = msgspec.json.Encoder(order="deterministic")


def course_content_hash(course: Course) -> str:
    """sha256 (hex) of the canonical JSON encoding: equal content, equal hash (for idempotent seeding)."""
    return hashlib.sha256(_hash_encoder.encode(course)).hexdigest()


def tutoring_of(course: Course) -> dict[str, dict[str, Any]]:
    """The authored tutoring material (hint ladders, misconceptions) by item slug, as stored in
    ``courses.extra["tutoring"]`` for the tutor; items without any are left out."""
    return {
        item.slug: {"hints": list(item.hints), "misconceptions": msgspec.to_builtins(item.misconceptions)}
        for _, item in course.all_items()
        if item.hints or item.misconceptions
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -c 'from app.content.loader import main; main()' PATH...``: print errors, return exit code."""
    paths = list(sys.argv[1:] if argv is None else argv) or ["content"]
    return report_problems([error for raw in paths for error in validate_path(Path(raw))], paths)


__all__ = [
    "ContentError",
    "ContentValidationError",
    "course_content_hash",
    "credential_of",
    "default_criteria",
    "load_course",
    "load_courses",
    "load_seed_plan",
    "main",
    "parse_course_text",
    "tutoring_of",
    "validate_path",
]
