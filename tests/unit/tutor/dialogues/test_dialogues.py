"""The scripted-dialogue suite of the offline tutor (issue 10 §1): see harness.py and dialogues.yaml."""

from __future__ import annotations

from tests.unit.tutor.dialogues.harness import HELD_OUT, guardrail_report, load_dialogues, run_all, summary

# The pass rate the offline tutor must keep (docs/tutor.md records the figures).
MIN_PASS_RATE = 0.95  # before issue 10 §1: 15/53 (28%); after: 53/53 (docs/tutor.md)
MIN_HELD_OUT_RATE = 0.75  # dialogues written after the rebuild, not authored against: 12/15


def test_the_suite_has_at_least_forty_multi_behaviour_dialogues() -> None:
    dialogues = load_dialogues()
    assert len(dialogues) >= 40
    assert len({d["id"] for d in dialogues}) == len(dialogues)
    behaviours = {d["behaviour"] for d in dialogues}
    assert behaviours == {"correct-misconception", "advance-hint", "stay-on-item", "refuse-graded"}


async def test_dialogue_pass_rate() -> None:
    results = await run_all()
    rate = sum(r.passed for r in results) / len(results)
    failed = [f"{r.id}: {'; '.join(r.failures)}" for r in results if not r.passed]
    assert rate >= MIN_PASS_RATE, summary(results) + "\n" + "\n".join(failed)


async def test_held_out_dialogue_pass_rate() -> None:
    results = await run_all(HELD_OUT)
    rate = sum(r.passed for r in results) / len(results)
    failed = [f"{r.id}: {'; '.join(r.failures)}" for r in results if not r.passed]
    assert rate >= MIN_HELD_OUT_RATE, summary(results) + "\n" + "\n".join(failed)


async def test_no_tutor_reply_in_the_dialogues_is_stopped_by_the_output_filter() -> None:
    # The authored hints and corrections quote no answer key of the course, so the streaming answer-leak
    # filter (with the course-wide keys the turn path uses) never has to cut a reply short.
    for path in (None, HELD_OUT):
        _, _, stopped = await (guardrail_report() if path is None else guardrail_report(path))
        assert stopped == []


async def test_the_input_guardrails_let_tutoring_turns_through() -> None:
    # Saying you are lost, or stating a wrong belief the tutor should correct, is not an attack: the
    # classifier once blocked "I'm stuck." after a request for code (docs/guardrails.md, "The benign
    # tutoring retrain"). Only the deliberately off-topic turn may be refused.
    for path in (None, HELD_OUT):
        _, blocked, _ = await (guardrail_report() if path is None else guardrail_report(path))
        assert all(line.endswith("-> off_topic") for line in blocked), blocked
