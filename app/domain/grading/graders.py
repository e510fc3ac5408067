"""Graders: exact multiple choice, rubric grading of short answers (Claude or offline), tests for code.

Every grader returns a ``GradeResult``. Two exceptions steer the job: ``TransientGradingError`` (retry the
job with backoff) and ``GraderOutputError`` (the model's output stayed malformed after one retry: the
submission goes to human review and no grade is invented).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.content.schema import Rubric

# Offline grades are a keyword heuristic: capped so they route to a human unless the threshold is low.
OFFLINE_MAX_CONFIDENCE = 0.6
_WORD = re.compile(r"[a-z][a-z0-9_]{3,}")
_STOP = frozenset(
    {
        "that",
        "this",
        "with",
        "from",
        "have",
        "when",
        "they",
        "their",
        "there",
        "which",
        "would",
        "could",
        "should",
        "about",
        "into",
        "than",
        "then",
        "them",
        "what",
        "your",
        "more",
        "most",
        "only",
        "also",
        "each",
        "every",
        "some",
        "such",
        "other",
        "these",
        "those",
        "does",
        "were",
        "been",
        "being",
        "least",
        "finds",
        "find",
        "mentions",
        "explains",
        "explain",
        "answer",
        "learner",
    }
)


class TransientGradingError(Exception):
    """A failure worth retrying: the model provider is overloaded, rate limited or unreachable."""


class GraderOutputError(Exception):
    """The grader's output could not be used even after a retry; a human must grade."""


@dataclass(frozen=True)
class CriterionScore:
    criterion: str
    points: float
    max_points: float
    rationale: str


@dataclass(frozen=True)
class GradeResult:
    score: float
    max_score: float
    confidence: float
    feedback: str
    graded_by: str  # "auto" (exact) or "ai"
    criteria: list[CriterionScore] = field(default_factory=list)
    prompt_version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def grade_multiple_choice(spec: dict[str, Any], choices: list[int]) -> GradeResult:
    """Exact marking. Each question's mark and explanation is kept apart (``details["questions"]``) so the
    learner reads it under its own question; no mark names the right option of a question answered wrongly."""
    questions = spec["questions"]
    score, notes, marks = 0.0, [], []
    for number, (question, chosen) in enumerate(zip(questions, choices, strict=True), start=1):
        points = float(question.get("points", 1.0))
        correct = chosen == question["answer"]
        explanation = str(question.get("explanation", "")).strip()
        if correct:
            score += points
        else:
            notes.append(f"Question {number}: not quite. {explanation}".strip())
        marks.append(
            {
                "question": number,
                "correct": correct,
                "points": points if correct else 0.0,
                "max_points": points,
                "explanation": explanation,
            }
        )
    total = sum(float(q.get("points", 1.0)) for q in questions)
    feedback = "All correct." if not notes else "\n".join(f"- {note}" for note in notes)
    return GradeResult(score, total, 1.0, feedback, "auto", details={"questions": marks})


class RubricGrader(Protocol):
    """One independent grading pass of a short answer against a rubric."""

    prompt_version: str

    async def grade_pass(self, rubric: Rubric, prompt: str, answer: str, pass_number: int) -> list[CriterionScore]: ...


def combine_passes(rubric: Rubric, passes: list[list[CriterionScore]], cap: float, version: str) -> GradeResult:
    """Average two passes; their disagreement (normalised per criterion) lowers confidence."""
    first, second = passes
    max_score = rubric.max_points()
    gaps = [
        abs(a.points - b.points) / a.max_points if a.max_points else 0.0 for a, b in zip(first, second, strict=True)
    ]
    disagreement = sum(gaps) / len(gaps) if gaps else 0.0
    criteria = [
        CriterionScore(a.criterion, round((a.points + b.points) / 2, 2), a.max_points, a.rationale)
        for a, b in zip(first, second, strict=True)
    ]
    score = round(sum(c.points for c in criteria), 2)
    confidence = round(max(0.0, min(cap, 1.0 - 2 * disagreement)), 3)
    # A Markdown list: the learner's view renders feedback as Markdown, where single line breaks would merge.
    feedback = "\n".join(f"- **{c.criterion}** ({c.points:g} / {c.max_points:g}): {c.rationale}" for c in criteria)
    details = {"disagreement": round(disagreement, 3), "passes": [[c.points for c in p] for p in passes]}
    return GradeResult(score, max_score, confidence, feedback, "ai", criteria, version, details)


async def grade_short_answer(grader: RubricGrader, rubric: Rubric, prompt: str, answer: str) -> GradeResult:
    passes = [await grader.grade_pass(rubric, prompt, answer, number) for number in (1, 2)]
    offline = isinstance(grader, OfflineRubricGrader)
    result = combine_passes(rubric, passes, OFFLINE_MAX_CONFIDENCE if offline else 1.0, grader.prompt_version)
    if offline:
        result = dataclasses.replace(result, feedback=f"{OFFLINE_NOTE}\n\n{result.feedback}")
    return result


def _terms(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _STOP}


class OfflineRubricGrader:
    """Deterministic grading without a model: how much of a criterion's vocabulary the answer covers.

    Pass 1 compares with the criterion's best level description; pass 2 with the exemplar answers. The two
    look at different evidence, so they disagree when the answer is borderline, which lowers confidence."""

    prompt_version = "offline-keywords-1"

    async def grade_pass(self, rubric: Rubric, prompt: str, answer: str, pass_number: int) -> list[CriterionScore]:
        said = _terms(answer)
        scores = []
        for criterion in rubric.criteria:
            levels = sorted(criterion.levels, key=lambda level: level.points)
            best = levels[-1]
            if pass_number == 1:
                wanted = _terms(best.description) | _terms(criterion.description)
            else:
                wanted = set().union(*(_terms(e) for e in rubric.exemplars)) or _terms(best.description)
            coverage = len(said & wanted) / len(wanted) if wanted else 0.0
            # Map coverage onto the levels: 0 → lowest, >= 60% of the vocabulary → best.
            index = min(len(levels) - 1, int(coverage / 0.6 * (len(levels) - 1) + 0.5))
            level = levels[index]
            # Say only what a keyword match can observe: which terms appear. A level's description ("listed
            # without reasons") would be a judgement of reasoning it cannot make, and could contradict the answer.
            # Pass 2's vocabulary comes from the hidden exemplars, so its terms are never named.
            rationale = _coverage_note(sorted(said & wanted), sorted(wanted - said)) if pass_number == 1 else ""
            scores.append(CriterionScore(criterion.name, level.points, best.points, rationale))
        return scores


# Who or what decided a grade, finer than ``Grade.graded_by`` (which says "ai" for unit tests too).
GRADERS = ("answer_key", "unit_tests", "ai_model", "offline_keywords", "person")


def grader_of(graded_by: str, prompt_version: str | None, details: dict[str, Any] | None) -> str:
    """``answer_key`` (multiple choice), ``unit_tests`` (code: the hidden tests decide the score, even when a
    model added style feedback), ``offline_keywords`` (the offline short-answer heuristic), ``ai_model``
    (a model graded against the rubric) or ``person`` (a reviewer's override)."""
    if graded_by == "human":
        return "person"
    if graded_by == "auto":
        return "answer_key"
    if details and ("sandbox_status" in details or "tests" in details):
        return "unit_tests"
    if prompt_version and prompt_version.startswith("offline-"):
        return "offline_keywords"
    return "ai_model"


OFFLINE_NOTE = (
    "Marked without an AI model, by looking for the rubric's key terms: it can see which ideas you named, "
    "not how well you argued them, so a person checks any grade it is unsure of."
)


def _coverage_note(found: list[str], missing: list[str], shown: int = 6) -> str:
    def some(terms: list[str]) -> str:
        return ", ".join(terms[:shown]) + (", …" if len(terms) > shown else "")

    total = len(found) + len(missing)
    if not total:
        return "No key terms to look for in this criterion."
    if not missing:
        return f"All {total} key terms for this point appear in your answer ({some(found)})."
    if not found:
        return f"None of the key terms for this point appear in your answer (for example {some(missing)})."
    return f"{len(found)} of {total} key terms for this point appear ({some(found)}); not found: {some(missing)}."


CODE_POINTS = 10.0  # a code task is out of 10, shared out over its hidden tests (stable if a run crashes)


def grade_code_result(result: Any, rubric_feedback: str = "") -> GradeResult:
    """Turn a sandbox run into a grade: the share of hidden tests passed, out of CODE_POINTS."""
    total = max(1, int(result.total))
    lines = [f"{result.passed} of {result.total} tests passed."]
    if result.status != "ok":
        lines.append(f"The run stopped: {result.detail}")
    lines += [f"- {t.name}: {t.message}" for t in result.tests if not t.passed][:10]
    if rubric_feedback:
        lines.append(rubric_feedback)
    details: dict[str, Any] = {
        "sandbox_status": result.status,
        "duration_ms": round(float(result.duration_ms), 1),
        # Every test's outcome with what a failure compared: for reviewers (never in the learner's view).
        "tests": [
            {
                "name": t.name,
                "passed": t.passed,
                "message": t.message,
                **{k: v for k in ("assertion", "expected", "actual", "params") if (v := getattr(t, k, ""))},
            }
            for t in list(result.tests)[:100]
        ],
    }
    score = round(CODE_POINTS * result.passed / total, 2)
    return GradeResult(score, CODE_POINTS, 1.0, "\n".join(lines), "ai", details=details)
