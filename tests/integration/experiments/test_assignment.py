"""Deterministic assignment by user: buckets, rollout proportions, raising the rollout only adds learners,
variant weights, the course's experiment before the org-wide one; the hint policy "attempt_first" in the
offline tutor and the Claude system prompt; a variant's prompt version honoured, a withdrawn one ignored."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import replace

from app.config import Settings
from app.domain.tutor.experiment_assignment import (
    CONTROL,
    ArmSpec,
    RunningExperiment,
    assign,
    bucket,
    covering,
    in_rollout,
)
from app.domain.tutor.prompts import Override, PromptRegistry, tutoring_notes
from app.domain.tutor.providers.base import ChatMessage, ModelRequest, TutorContext
from app.domain.tutor.providers.dialogue import ATTEMPT_FIRST_LABEL
from app.domain.tutor.providers.offline import compose

EXPERIMENT = uuid.UUID("5b2f0c64-0a51-4a8e-9d1b-2f7b8b0a9e11")
USERS = [uuid.UUID(int=n * 7919 + 13) for n in range(5000)]
ARMS = (ArmSpec("a", None, "ladder", 1), ArmSpec("b", "socratic-2026-11-b", "attempt_first", 3))


def running(percent: int, course: uuid.UUID | None = None, experiment: uuid.UUID = EXPERIMENT) -> RunningExperiment:
    return RunningExperiment(id=experiment, course_id=course, rollout_percent=percent, variants=ARMS)


def test_buckets_are_deterministic_and_spread() -> None:
    assert [bucket(EXPERIMENT, u) for u in USERS[:50]] == [bucket(EXPERIMENT, u) for u in USERS[:50]]
    assert all(0 <= bucket(EXPERIMENT, u) < 10_000 for u in USERS)
    # Another experiment reshuffles: the buckets are per experiment, not per user alone.
    other = uuid.uuid4()
    assert sum(bucket(EXPERIMENT, u) == bucket(other, u) for u in USERS) < 10


def test_rollout_proportions_and_raising_it_only_adds_learners() -> None:
    for percent in (0, 10, 30, 60, 100):
        share = sum(in_rollout(EXPERIMENT, u, percent) for u in USERS) / len(USERS) * 100
        assert abs(share - percent) <= 3, (percent, share)
    at_30 = {u for u in USERS if in_rollout(EXPERIMENT, u, 30)}
    at_60 = {u for u in USERS if in_rollout(EXPERIMENT, u, 60)}
    assert at_30 <= at_60
    assert len(at_60) > len(at_30)
    # Nobody in the rollout changes variant when it grows.
    arms_30 = {u: assign([running(30)], None, u) for u in at_30}
    arms_60 = {u: assign([running(60)], None, u) for u in at_30}
    assert arms_30 == arms_60


def test_variants_follow_their_weights_and_the_rest_is_control() -> None:
    arms = Counter(a.variant for u in USERS if (a := assign([running(50)], None, u)) is not None)
    assert sum(arms.values()) == len(USERS)  # everyone covered: in an arm or in control
    assert abs(arms[CONTROL] / len(USERS) - 0.5) <= 0.03
    in_rollout_total = arms["a"] + arms["b"]
    assert abs(arms["b"] / in_rollout_total - 0.75) <= 0.03  # weights 1:3
    learner = USERS[0]
    first = assign([running(100)], None, learner)
    assert first is not None
    assert all(assign([running(100)], None, learner) == first for _ in range(5))
    in_b = [a for u in USERS if (a := assign([running(100)], None, u)) is not None and a.variant == "b"]
    chosen = in_b[0]
    assert (chosen.prompt_version, chosen.hint_policy) == ("socratic-2026-11-b", "attempt_first")
    control = next(a for u in USERS if (a := assign([running(50)], None, u)) is not None and a.is_control)
    assert (control.prompt_version, control.hint_policy) == (None, "ladder")


def test_the_course_experiment_beats_the_org_wide_one() -> None:
    course, other_course = uuid.uuid4(), uuid.uuid4()
    org_wide = running(100, None, uuid.uuid4())
    course_own = running(100, course, uuid.uuid4())
    assert covering([org_wide, course_own], course) is course_own
    assert covering([course_own, org_wide], course) is course_own
    assert covering([org_wide, course_own], other_course) is org_wide
    assert covering([course_own], other_course) is None
    assert assign([course_own], other_course, USERS[0]) is None  # not covered: no experiment recorded
    covered = assign([org_wide, course_own], course, USERS[0])
    assert covered is not None
    assert covered.experiment_id == course_own.id


def test_a_variant_prompt_version_is_honoured_unless_withdrawn(settings: Settings) -> None:
    registry = PromptRegistry(settings.content_dir / "prompts")
    chosen = registry.choose_version("tutor", "socratic-2026-11-b", ())
    assert chosen is not None
    assert chosen.version == "socratic-2026-11-b"
    withdrawn = Override("socratic-2026-11-b", "x" * 30, 1, False)
    assert registry.choose_version("tutor", "socratic-2026-11-b", (withdrawn,)) is None
    org_version = Override("org-v1", "You are a tutor. {safety} {material}", 1, True)
    assert registry.choose_version("tutor", "org-v1", (org_version,)) is not None
    assert registry.choose_version("tutor", "no-such", ()) is None


LESSON = TutorContext(
    course_title="Python",
    mode="hint",
    item_title="Loops",
    item_body="A **for loop** repeats a block for each item of a sequence. The **range** function counts.",
    hints=("Think about what repeats.", "Which sequence do you loop over?"),
)


def _reply(context: TutorContext, messages: list[tuple[str, str]]) -> str:
    request = ModelRequest(
        system="",
        messages=tuple(ChatMessage(role, text) for role, text in messages),
        max_tokens=2000,
        model="offline",
        context=context,
    )
    return compose(request)


def test_offline_tutor_asks_for_an_attempt_before_the_first_hint() -> None:
    ladder = _reply(LESSON, [("user", "Can I have a hint about loops?")])
    assert "**Hint 1 of 2:**" in ladder
    assert ATTEMPT_FIRST_LABEL not in ladder
    attempt_first = replace(LESSON, hint_policy="attempt_first")
    first = _reply(attempt_first, [("user", "Can I have a hint about loops?")])
    assert ATTEMPT_FIRST_LABEL in first
    assert "**Hint" not in first
    # Once asked (and answered), the ladder starts at its first hint and climbs as usual.
    second = _reply(
        attempt_first,
        [("user", "Can I have a hint about loops?"), ("assistant", first), ("user", "I tried range(3), stuck")],
    )
    assert "**Hint 1 of 2:**" in second
    assert ATTEMPT_FIRST_LABEL not in second


def test_claude_notes_carry_the_attempt_first_policy() -> None:
    assert "attempt first" not in tutoring_notes(LESSON).lower()
    notes = tutoring_notes(replace(LESSON, hint_policy="attempt_first"))
    assert "Hint policy: attempt first" in notes
    assert "Before the FIRST hint" in notes
