"""Authored tutoring material (hint ladders, misconceptions): stored form, model context, derived state."""

from __future__ import annotations

from types import SimpleNamespace

from app.domain.tutor.context import tutoring_material
from app.domain.tutor.prompts import ChosenPrompt, render_system
from app.domain.tutor.providers import dialogue
from app.domain.tutor.providers.base import ChatMessage, Misconception, TutorContext

FAST = Misconception((r"idempotent\b.*\bfast",), "Idempotent is about effect, not speed.", "Which methods?", "HTTP")


def _chosen() -> ChosenPrompt:
    return ChosenPrompt("tutor", "v1", "Course {course_title}\n{material}\n{graded_rule}", {"socratic": ""}, "GRADED")


def test_the_model_gets_the_same_hints_and_misconceptions() -> None:
    context = TutorContext(
        course_title="Backend",
        item_title="Methods",
        item_body="x" * 10_000,  # the material is cut to size; the tutoring notes must survive the cut
        hints=("Look at the method first.", "Ask whether it changes state."),
        misconceptions=(FAST,),
    )
    system = render_system(_chosen(), context, "")
    assert "## Authored hint ladder" in system
    assert "1. Look at the method first.\n2. Ask whether it changes state." in system
    assert "## Known misconceptions" in system
    assert "Idempotent is about effect, not speed." in system
    assert "then check: Which methods?" in system
    assert "never with the answer" not in system
    graded = render_system(_chosen(), TutorContext(course_title="B", graded=True, misconceptions=(FAST,)), "")
    assert "never with the answer" in graded
    assert "Authored hint ladder" not in render_system(_chosen(), TutorContext(course_title="B"), "")


def test_tutoring_material_reads_the_stored_form_and_skips_malformed_entries() -> None:
    extra = {
        "tutoring": {
            "item": {"hints": ["one", "", 5, "two"], "misconceptions": [{"patterns": ["a"], "correction": "A"}, {}]},
            "lesson": {"misconceptions": [{"patterns": ["b"], "correction": "B", "check": "?"}]},
        }
    }
    item = SimpleNamespace(slug="item", title="Item")
    lesson = SimpleNamespace(slug="lesson", title="Lesson")
    hints, misconceptions = tutoring_material(extra, item, [lesson])
    assert hints == ("one", "two")
    assert misconceptions == (Misconception(("a",), "A", "", "Item"), Misconception(("b",), "B", "?", "Lesson"))
    assert tutoring_material({}, item, [lesson]) == ((), ())
    assert tutoring_material({"tutoring": []}, item, []) == ((), ())


def test_state_is_derived_from_the_transcript() -> None:
    messages = (
        ChatMessage("user", "So idempotent means fast?"),
        ChatMessage("assistant", "**Not quite.** ..."),
        ChatMessage("user", "I'm stuck"),
        ChatMessage("assistant", "**Hint 1 of 3:** A request has a **method** and a **target**.\n> the **body**"),
        ChatMessage("user", "An example of the second one?"),
    )
    state = dialogue.derive(messages, (FAST,))
    assert state.hints_given == 1
    assert state.next_hint == 2
    assert state.claims == [FAST]
    assert state.asked == ["So idempotent means fast?", "I'm stuck"]
    assert state.listed() == ["body", "method", "target"]  # quoted material first
    assert state.referent("An example of the second one?") == "method"
    assert state.referent("tell me more") is None
    assert dialogue.is_stuck("I still don't get it")
    assert dialogue.is_stuck("Another hint please")
    assert not dialogue.is_stuck("How should I start this exercise?")
    assert dialogue.claimed((Misconception(("(bad",), "x"), FAST), "idempotent is fast") == FAST  # bad regex skipped
