"""The course file format: msgspec Structs decoded from ``content/courses/*.yaml`` and ``content/seed.yaml``.

Every Struct forbids unknown fields, so a typo in a key is an error rather than silently ignored.
Shape and value checks (types, enums, ranges, slug patterns, list lengths) live here; rules that
look across fields (unknown prerequisites, cycles, answer indexes, ...) live in ``loader.py``.

The three assessment types form a tagged union on the ``type`` key: each type requires its own
fields and rejects the fields of the others.
"""

from typing import Annotated, Any, ClassVar, Literal, TypeAlias

import msgspec

from app.lib.roles import ROLES, Role

SLUG_PATTERN = "^[a-z0-9][a-z0-9-]{1,98}$"
ORG_SLUG_PATTERN = "^[a-z0-9][a-z0-9-]{1,62}$"
EMAIL_PATTERN = r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$"
IDENTIFIER_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"

Slug = Annotated[str, msgspec.Meta(pattern=SLUG_PATTERN, description="lower-case letters, digits and dashes")]
NonEmptyStr = Annotated[str, msgspec.Meta(min_length=1)]
Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]

Level = Literal["beginner", "intermediate", "advanced", "expert"]
ItemKind = Literal["lesson", "exercise", "assessment"]
BloomLevel = Literal["remember", "understand", "apply", "analyze", "evaluate", "create"]

LEVELS: tuple[str, ...] = ("beginner", "intermediate", "advanced", "expert")
ITEM_KINDS: tuple[str, ...] = ("lesson", "exercise", "assessment")
BLOOM_LEVELS: tuple[str, ...] = ("remember", "understand", "apply", "analyze", "evaluate", "create")
ASSESSMENT_TYPES: tuple[str, ...] = ("multiple_choice", "short_answer", "code")
CODE_LANGUAGES: tuple[str, ...] = ("python",)

# Keys of an assessment spec that must never reach a learner (answers, hidden tests, model answers).
HIDDEN_SPEC_KEYS = frozenset({"answer", "explanation", "hidden_tests", "reference_solution", "exemplars"})


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every content Struct: keyword-only, unknown keys rejected."""


# --------------------------------------------------------------------------- rubrics


class RubricLevel(_Strict, kw_only=True):
    """One performance level of a criterion, e.g. ``excellent`` worth 4 points."""

    label: NonEmptyStr
    points: Annotated[float, msgspec.Meta(ge=0)]
    description: NonEmptyStr


class RubricCriterion(_Strict, kw_only=True):
    """One thing the grader judges (correctness, reasoning, ...), with at least two levels."""

    name: NonEmptyStr
    description: NonEmptyStr
    levels: Annotated[list[RubricLevel], msgspec.Meta(min_length=2)]


class Rubric(_Strict, kw_only=True):
    """Criteria for AI and human graders; ``exemplars`` are model answers (never shown to learners)."""

    criteria: Annotated[list[RubricCriterion], msgspec.Meta(min_length=1)]
    exemplars: list[NonEmptyStr] = []

    def max_points(self) -> float:
        return sum(max(level.points for level in criterion.levels) for criterion in self.criteria)


# --------------------------------------------------------------------------- assessments


class Question(_Strict, kw_only=True):
    """A multiple-choice question; ``answer`` is the 0-based index of the correct option."""

    prompt: NonEmptyStr
    options: Annotated[list[NonEmptyStr], msgspec.Meta(min_length=2, max_length=8)]
    answer: Annotated[int, msgspec.Meta(ge=0)]
    points: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    explanation: str = ""  # why the answer is right; shown only after grading


class _AssessmentBase(_Strict, kw_only=True, tag_field="type"):
    """Fields every assessment type shares (the DB columns of ``assessments``)."""

    kind: ClassVar[str]

    graded: bool = True  # summative (true) or formative (false)
    pass_mark: Fraction = 0.7  # fraction of the maximum score needed to pass
    confidence_threshold: Fraction = 0.8  # AI grades less confident than this go to human review
    objectives: Annotated[list[NonEmptyStr], msgspec.Meta(min_length=1)]

    def spec(self) -> dict[str, Any]:
        """The type-specific part (questions, rubric, tests...) for ``assessments.spec``; never send to learners."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        for key in ("type", "graded", "pass_mark", "confidence_threshold", "objectives"):
            data.pop(key, None)
        return data

    def learner_spec(self) -> dict[str, Any]:
        """``spec()`` without answers, explanations, hidden tests, reference solutions and exemplars."""
        stripped: dict[str, Any] = _strip_hidden(self.spec())
        return stripped


class MultipleChoiceAssessment(_AssessmentBase, kw_only=True, tag="multiple_choice"):
    kind: ClassVar[str] = "multiple_choice"

    questions: Annotated[list[Question], msgspec.Meta(min_length=1)]

    def max_points(self) -> float:
        return sum(question.points for question in self.questions)


class ShortAnswerAssessment(_AssessmentBase, kw_only=True, tag="short_answer"):
    kind: ClassVar[str] = "short_answer"

    prompt: NonEmptyStr
    rubric: Rubric
    max_chars: Annotated[int, msgspec.Meta(ge=50, le=20_000)] = 4000


class CodeAssessment(_AssessmentBase, kw_only=True, tag="code"):
    """A programming task. The grader runs ``hidden_tests`` against the learner's code.

    Contract: the learner's code is saved as ``submission.py`` next to ``hidden_tests`` saved as
    ``test_submission.py``; the tests import the entrypoint with ``from submission import <entrypoint>``
    and every top-level ``test_*`` function must pass within ``time_limit_seconds``.
    """

    kind: ClassVar[str] = "code"

    prompt: NonEmptyStr
    language: Literal["python"] = "python"
    starter_code: NonEmptyStr
    entrypoint: Annotated[str, msgspec.Meta(pattern=IDENTIFIER_PATTERN)]
    hidden_tests: NonEmptyStr
    # Tests the learner sees and may run before submitting ("Run the visible tests"); same contract as
    # hidden_tests. They never count towards the grade: only the hidden tests do.
    visible_tests: str = ""
    time_limit_seconds: Annotated[int, msgspec.Meta(ge=1, le=60)] = 5
    reference_solution: str = ""  # a correct answer the hidden tests pass against; never shown to learners
    rubric: Rubric | None = None  # optional style/approach criteria on top of the tests


Assessment: TypeAlias = MultipleChoiceAssessment | ShortAnswerAssessment | CodeAssessment


def learner_view(spec: dict[str, Any]) -> dict[str, Any]:
    """A stored assessment spec without answers, explanations, hidden tests, solutions and exemplars."""
    stripped: dict[str, Any] = _strip_hidden(spec)
    return stripped


def _strip_hidden(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_hidden(v) for k, v in value.items() if k not in HIDDEN_SPEC_KEYS}
    if isinstance(value, list):
        return [_strip_hidden(v) for v in value]
    return value


# --------------------------------------------------------------------------- course structure


# Slip and guess at 0.5 or more would make a right answer no evidence of knowing (docs/adaptive.md).
BelowHalf = Annotated[float, msgspec.Meta(ge=0.0, lt=0.5)]


class BKT(_Strict, kw_only=True):
    """Bayesian Knowledge Tracing parameters of a competency (docs/adaptive.md "Mastery model")."""

    prior: Fraction = 0.2  # p(L0): known before any evidence
    learn: Fraction = 0.15  # p(T): learned at each opportunity
    slip: BelowHalf = 0.1  # p(S): wrong answer although known
    guess: BelowHalf = 0.2  # p(G): right answer although not known


class Competency(_Strict, kw_only=True):
    slug: Slug
    name: NonEmptyStr
    description: str = ""
    bkt: BKT = msgspec.field(default_factory=BKT)


class Requirement(_Strict, kw_only=True):
    """A competency gate: the item opens when the learner's mastery of ``competency`` reaches ``mastery``."""

    competency: Slug  # a competency slug declared by the course
    mastery: Fraction


class Misconception(_Strict, kw_only=True):
    """A wrong idea learners state about an item, and what the tutor says to correct it.

    ``patterns`` are regular expressions matched case-insensitively against the learner's message (any
    one matching is enough); ``correction`` is the explanation the tutor gives; ``check`` an optional
    question that checks the corrected understanding. On graded items write the correction as a nudge
    (a question that makes the learner re-examine the claim), never as the answer."""

    patterns: Annotated[list[NonEmptyStr], msgspec.Meta(min_length=1)]
    correction: NonEmptyStr
    check: str = ""


class Item(_Strict, kw_only=True):
    """A lesson, exercise or assessment: one node of the course's prerequisite graph."""

    slug: Slug
    kind: ItemKind
    title: NonEmptyStr
    bloom_level: BloomLevel
    estimated_minutes: Annotated[int, msgspec.Meta(ge=1, le=600)] = 10
    prerequisites: list[Slug] = []  # item slugs of this course (any module)
    competencies: list[Slug] = []  # competency slugs declared by the course
    requires: list[Requirement] = []  # competency gates (mastery thresholds)
    body: NonEmptyStr  # Markdown shown to learners
    solution: str = ""  # exercises only; never shown to learners
    assessment: Assessment | None = None  # required iff kind == "assessment"
    # Tutoring material (never shown on the item page; the tutor uses it, offline and online):
    hints: list[NonEmptyStr] = []  # the hint ladder, most general first; never the answer
    misconceptions: list[Misconception] = []


class Module(_Strict, kw_only=True):
    slug: Slug
    title: NonEmptyStr
    summary: str = ""
    items: Annotated[list[Item], msgspec.Meta(min_length=1)]


class CourseCredential(_Strict, kw_only=True):
    """What the Open Badges 3.0 credential of the course says (docs/course-format.md "Credential").

    ``criteria``: how the badge was earned (Markdown; the Achievement's criteria narrative). ``image``: an
    ``https://`` (or ``http://``) URL, or a path relative to the course file (an .svg or .png of at most
    256 KB, embedded in the credential as a data URL); empty: a badge generated from the course title.
    ``valid_for_days``: the credential expires this many days after it is earned (``validUntil``)."""

    criteria: str = ""
    image: str = ""
    valid_for_days: Annotated[int, msgspec.Meta(ge=1, le=36_500)] | None = None


class Course(_Strict, kw_only=True):
    slug: Slug
    title: NonEmptyStr
    summary: str = ""
    description: str = ""  # Markdown
    level: Level = "intermediate"
    estimated_hours: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0
    tags: list[Slug] = []
    competencies: Annotated[list[Competency], msgspec.Meta(min_length=1)]
    modules: Annotated[list[Module], msgspec.Meta(min_length=1)]
    credential: CourseCredential | None = None  # the credential earned by completing the course

    def all_items(self) -> list[tuple[Module, Item]]:
        """Every item with its module, in document order."""
        return [(module, item) for module in self.modules for item in module.items]


# --------------------------------------------------------------------------- seed plan


class SeedPass(_Strict, kw_only=True):
    """A multiple-choice assessment a demo user has already passed (``course-slug/item-slug``), answered
    ``days_ago`` days before seeding: the seed enrolls them and grades a full-marks answer through the
    normal grading path, so the demo shows progress and spaced reviews that are already due."""

    assessment: Annotated[str, msgspec.Meta(pattern="^[a-z0-9][a-z0-9-]{1,98}/[a-z0-9][a-z0-9-]{1,98}$")]
    days_ago: Annotated[int, msgspec.Meta(ge=0, le=365)] = 3


class SeedUser(_Strict, kw_only=True):
    email: Annotated[str, msgspec.Meta(pattern=EMAIL_PATTERN)]
    name: NonEmptyStr
    roles: Annotated[list[Role], msgspec.Meta(min_length=1)]
    passed: list[SeedPass] = []  # demo history (learners): assessments already passed
    # Courses this demo learner has finished (every item done, every assessment passed with full marks) and
    # holds the credential of: the seed issues it through the same service as the worker.
    completed: list[Slug] = []


class SeedAttempt(_Strict, kw_only=True):
    """A graded attempt at a multiple-choice assessment: the first ``right`` questions answered right."""

    item: Slug
    right: Annotated[int, msgspec.Meta(ge=0)]


class SeedActivity(_Strict, kw_only=True):
    """A demo learner's history on one course (``lyceum seed`` / ``lyceum up`` only, never the test suite):
    enrolled, ``completed`` lessons and exercises in order, then ``attempts`` graded the normal way."""

    learner: Annotated[str, msgspec.Meta(pattern=EMAIL_PATTERN)]
    course: Slug
    completed: list[Slug] = []
    attempts: list[SeedAttempt] = []


class SeedOrg(_Strict, kw_only=True):
    slug: Annotated[str, msgspec.Meta(pattern=ORG_SLUG_PATTERN)]
    name: NonEmptyStr
    users: list[SeedUser] = []
    courses: list[Slug] = []  # course slugs loaded into this org
    activity: list[SeedActivity] = []  # demo learners' history (mastery, gates)


class SeedPlan(_Strict, kw_only=True):
    """``content/seed.yaml``: demo organizations, their users and which courses each one gets."""

    demo_password: Annotated[str, msgspec.Meta(min_length=8)]
    orgs: Annotated[list[SeedOrg], msgspec.Meta(min_length=1)]


__all__ = [
    "ASSESSMENT_TYPES",
    "BKT",
    "BLOOM_LEVELS",
    "CODE_LANGUAGES",
    "HIDDEN_SPEC_KEYS",
    "ITEM_KINDS",
    "LEVELS",
    "ROLES",
    "SLUG_PATTERN",
    "Assessment",
    "BloomLevel",
    "CodeAssessment",
    "Competency",
    "Course",
    "CourseCredential",
    "Item",
    "ItemKind",
    "Level",
    "Misconception",
    "Module",
    "MultipleChoiceAssessment",
    "Question",
    "Requirement",
    "Rubric",
    "RubricCriterion",
    "RubricLevel",
    "SeedActivity",
    "SeedAttempt",
    "SeedOrg",
    "SeedPass",
    "SeedPlan",
    "SeedUser",
    "ShortAnswerAssessment",
]
