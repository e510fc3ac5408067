"""Drives the offline tutor through the scripted dialogues of ``dialogues.yaml`` and scores them.

The dialogues talk to the real :class:`OfflineTutorProvider` through its provider API (``stream``), with
each turn's history built by the real :func:`app.domain.tutor.history.build_history` from the earlier
turns, exactly as ``TurnRunner._request`` does. The context is built from the course files the way
``app.domain.tutor.context.build_context`` builds it from the database (item, the module's other
lessons, prerequisites, protected texts and the authored tutoring material). Input guardrails and the
output filter are left out on purpose: they have their own tests, and here a blocked message would hide
what the tutor itself does.

Run ``uv run python -m tests.unit.tutor.dialogues.harness [-v] [--held-out]`` for a per-dialogue report
(``-v`` prints the replies of failed dialogues; ``--held-out`` runs ``heldout.yaml`` instead;
``--guardrails`` also reports which learner turns the shipped input guardrails would block and which
replies the output filter would stop, with the course-wide answer keys as the turn path uses them).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from app.content.loader import load_courses, tutoring_of
from app.content.schema import Course
from app.domain.tutor.context import protected_texts, tutoring_material
from app.domain.tutor.history import Turn, build_history
from app.domain.tutor.providers.base import ChatMessage, ModelRequest, RelatedItem, TextDelta, TutorContext
from app.domain.tutor.providers.offline import LABEL_LINE, OfflineTutorProvider, ProtectedGuard

ROOT = Path(__file__).resolve().parents[4]
DIALOGUES = Path(__file__).with_name("dialogues.yaml")
HELD_OUT = Path(__file__).with_name("heldout.yaml")
HISTORY_BUDGET = 6000  # LYCEUM_TUTOR_HISTORY_TOKEN_BUDGET's default order of magnitude
REFUSAL = "can't give you answers"


def courses() -> dict[str, Course]:
    return {course.slug: course for course in load_courses(ROOT / "content" / "courses")}


def context_for(course: Course, slug: str, mode: str = "socratic") -> TutorContext:
    """What build_context makes of the database rows, made from the course file."""
    module, item = next((m, i) for m in course.modules for i in m.items if i.slug == slug)
    by_slug = {i.slug: i for _, i in course.all_items()}
    assessment = SimpleNamespace(spec=item.assessment.spec()) if item.assessment is not None else None
    lessons = tuple(RelatedItem(i.title, i.body[:1500]) for i in module.items if i.kind == "lesson" and i is not item)
    related = tuple(RelatedItem(by_slug[s].title, by_slug[s].body[:1500]) for s in item.prerequisites)
    around = [i for i in module.items if i.kind == "lesson" and i is not item]
    around += [by_slug[s] for s in item.prerequisites]
    hints, misconceptions = tutoring_material({"tutoring": tutoring_of(course)}, item, around)
    return TutorContext(
        course_title=course.title,
        mode=mode,  # type: ignore[arg-type]
        item_title=item.title,
        item_body=item.body,
        item_kind=item.kind,
        graded=bool(item.assessment is not None and item.assessment.graded),
        module_items=lessons,
        related=related,
        protected=protected_texts(SimpleNamespace(solution=item.solution), assessment),  # type: ignore[arg-type]
        hints=hints,
        misconceptions=misconceptions,
    )


@dataclass
class Result:
    id: str
    behaviour: str
    failures: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _group_met(reply: str, group: Any) -> bool:
    options = group if isinstance(group, list) else [group]
    return any(str(option).lower() in reply for option in options)


def check(reply: str, expect: dict[str, Any], context: TutorContext) -> list[str]:
    failures = []
    low = reply.replace("**", "").lower()  # "**R**ate" reads as "Rate"
    if not reply.startswith(LABEL_LINE):
        failures.append("no offline label")
    if context.protected and ProtectedGuard(context.protected).leaks(reply.replace(LABEL_LINE, "")):
        failures.append("protected text in the reply")
    for group in expect.get("all", []):
        if not _group_met(low, group):
            failures.append(f"missing {group!r}")
    for phrase in expect.get("none", []):
        if str(phrase).lower() in low or str(phrase).lower() in reply.lower():
            failures.append(f"contains {phrase!r}")
    if "hint" in expect and f"**hint {expect['hint']}" not in reply.lower():
        failures.append(f"not hint {expect['hint']}")
    if expect.get("refuses") and REFUSAL not in low:
        failures.append("no refusal of graded answers")
    return failures


async def reply_to(context: TutorContext, turns: list[Turn], text: str) -> str:
    history = build_history(turns, HISTORY_BUDGET)
    request = ModelRequest("system", (*history, ChatMessage("user", text)), 4000, context=context)
    return "".join([e.text async for e in OfflineTutorProvider().stream(request) if isinstance(e, TextDelta)])


async def run_dialogue(dialogue: dict[str, Any], catalogue: dict[str, Course]) -> Result:
    context = context_for(catalogue[dialogue["course"]], dialogue["item"], dialogue.get("mode", "socratic"))
    result = Result(dialogue["id"], dialogue["behaviour"])
    turns: list[Turn] = []
    for number, turn in enumerate(dialogue["turns"], 1):
        reply = await reply_to(context, turns, turn["learner"])
        result.replies.append(reply)
        result.failures += [f"turn {number}: {f}" for f in check(reply, turn.get("expect") or {}, context)]
        turns.append(Turn(turn["learner"], reply))
    return result


def load_dialogues(path: Path = DIALOGUES) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = yaml.safe_load(path.read_text())["dialogues"]
    return data


async def run_all(path: Path = DIALOGUES) -> list[Result]:
    catalogue = courses()
    return [await run_dialogue(d, catalogue) for d in load_dialogues(path)]


def summary(results: list[Result]) -> str:
    lines = []
    for behaviour in sorted({r.behaviour for r in results}):
        group = [r for r in results if r.behaviour == behaviour]
        lines.append(f"{behaviour}: {sum(r.passed for r in group)}/{len(group)}")
    passed = sum(r.passed for r in results)
    lines.append(f"total: {passed}/{len(results)} ({100 * passed / len(results):.0f}%)")
    return "\n".join(lines)


def course_protected(course: Course, slug: str) -> tuple[str, ...]:
    """What course_protected_texts reads from the database: every OTHER graded item's protected texts."""
    texts: list[str] = []
    for _, item in course.all_items():
        if item.slug != slug and item.assessment is not None and item.assessment.graded:
            spec = SimpleNamespace(spec=item.assessment.spec())
            texts += protected_texts(SimpleNamespace(solution=item.solution), spec)  # type: ignore[arg-type]
    return tuple(texts)


async def guardrail_report(path: Path = DIALOGUES) -> tuple[int, list[str], list[str]]:
    """(turns, blocked learner turns, blocked replies) with the shipped default policy."""
    from app.domain.tutor.guardrails.output_filter import OutputFilter
    from app.domain.tutor.guardrails.pipeline import check_conversation, check_message
    from app.domain.tutor.guardrails.policy import load_policy_file

    policy = load_policy_file(ROOT / "content" / "policies" / "default.yaml")
    catalogue = courses()
    total, blocked_in, blocked_out = 0, [], []
    for dialogue in load_dialogues(path):
        course = catalogue[dialogue["course"]]
        context = context_for(course, dialogue["item"], dialogue.get("mode", "socratic"))
        context = replace(context, course_protected=course_protected(course, dialogue["item"]))
        turns: list[Turn] = []
        for turn in dialogue["turns"]:
            total += 1
            text = turn["learner"]
            verdict = check_conversation(
                check_message(text, policy, context), text, [t.user for t in turns], policy, context
            )
            if not verdict.allowed:
                blocked_in.append(f"{dialogue['id']}: {text!r} -> {verdict.policy}")
            reply = await reply_to(context, turns, text)
            output = OutputFilter(policy, context, visible=(text,))
            steps = [output.feed(reply[i : i + 3]) for i in range(0, len(reply), 3)] + [output.finish()]
            stopped = next((step.blocked for step in steps if step.blocked is not None), None)
            if stopped is not None:
                blocked_out.append(f"{dialogue['id']}: {text!r} -> {stopped.name}")
            turns.append(Turn(text, reply))
    return total, blocked_in, blocked_out


def main() -> None:
    if "--guardrails" in sys.argv:
        total, blocked_in, blocked_out = asyncio.run(
            guardrail_report(HELD_OUT if "--held-out" in sys.argv else DIALOGUES)
        )
        print("\n".join(["input blocked:", *blocked_in, "output stopped:", *blocked_out]))
        print(f"turns: {total}; learner turns blocked: {len(blocked_in)}; replies stopped: {len(blocked_out)}")
        return
    results = asyncio.run(run_all(HELD_OUT if "--held-out" in sys.argv else DIALOGUES))
    verbose = "-v" in sys.argv
    for r in results:
        print(f"{'PASS' if r.passed else 'FAIL'} {r.id}: {'; '.join(r.failures)}")
        if verbose and not r.passed:
            for reply in r.replies:
                print("    | " + reply.replace("\n", "\n    | "))
    print(summary(results))


if __name__ == "__main__":
    main()
