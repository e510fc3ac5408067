"""Prompt registry, conversation history trimming and the content-addressed object store."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from app.domain.tutor.history import Turn, build_history
from app.domain.tutor.prompts import ChosenPrompt, PromptError, PromptRegistry, assign_version, render_system
from app.domain.tutor.providers.base import RelatedItem, TutorContext
from app.lib.objectstore import LocalObjectStore

ROOT = Path(__file__).resolve().parents[3]


def test_assignment_is_deterministic_and_follows_weights() -> None:
    users = [uuid.uuid4() for _ in range(4000)]
    versions = [("a", 3), ("b", 1)]
    first = [assign_version("tutor", u, versions) for u in users]
    assert first == [assign_version("tutor", u, versions) for u in users]
    share = Counter(first)["a"] / len(users)
    assert 0.70 < share < 0.80
    assert assign_version("tutor", users[0], [("a", 0), ("b", 5)]) == "b"
    with pytest.raises(PromptError):
        assign_version("tutor", users[0], [("a", 0)])


def test_shipped_prompt_file_loads_and_renders() -> None:
    registry = PromptRegistry(ROOT / "content" / "prompts")
    prompt = registry.file("tutor")
    assert len(prompt.versions) >= 2
    version = prompt.versions[0]
    chosen = ChosenPrompt("tutor", version.version, version.system, prompt.modes, prompt.graded_rule)
    context = TutorContext(
        course_title="Backend Foundations",
        mode="hint",
        item_title="HTTP",
        item_body="Verbs.",
        graded=True,
        related=(RelatedItem("Status codes", "2xx, 4xx"),),
    )
    system = render_system(chosen, context, "SAFETY RULES")
    assert "Backend Foundations" in system
    assert "SAFETY RULES" in system
    assert prompt.modes["hint"] in system
    assert "graded" in system.lower()
    assert "Status codes" in system
    assert "{" not in system.replace("{course_title}", "")  # every placeholder filled


def test_history_keeps_recent_turns_and_summarises_older_ones() -> None:
    turns = [Turn(user=f"Question {i}. More detail here.", reply="x" * 400) for i in range(30)]
    history = build_history(turns, token_budget=1000)
    assert [m.role for m in history[:2]] == ["user", "assistant"]
    assert len(history) < 60
    assert history[-2].content.startswith("Question 29")
    assert "Earlier in this conversation I asked about: Question 0" in history[0].content
    assert build_history([], 1000) == ()


async def test_object_store_is_content_addressed(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    first = await store.put(b"same text", namespace="tutor/org")
    second = await store.put(b"same text", namespace="tutor/org")
    assert first.key == second.key
    assert first.created is True
    assert second.created is False
    assert await store.get(first.key) == b"same text"
    assert len(first.content_hash) == 64
    with pytest.raises(ValueError, match="escapes"):
        await store.get("../../etc/passwd")
