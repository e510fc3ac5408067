"""The next-best-step ranking with hand-made inputs: every kind of reason, the order between signals, the
limit of three, and that locked or done items are never recommended where they must not be."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from app.domain.recommendations.ranking import (
    PATHWAY_REASON,
    AskedQuestion,
    DueReview,
    PathwayItem,
    WeakCompetency,
    recommend,
    topic_of,
)

IDEMPOTENCY, RETRIES, CACHING = uuid4(), uuid4(), uuid4()


def item(
    title: str, *, kind: str = "lesson", done: bool = False, locked: bool = False, skills: tuple[UUID, ...] = ()
) -> PathwayItem:
    return PathwayItem(item_id=uuid4(), title=title, kind=kind, done=done, locked=locked, competencies=skills)


def course() -> list[PathwayItem]:
    """Intro (done), HTTP basics (next), Idempotency keys (open), its quiz, Retries (locked), Caching (locked)."""
    return [
        item("Intro", done=True),
        item("HTTP basics"),
        item("Idempotency keys", skills=(IDEMPOTENCY,)),
        item("Payments quiz", kind="assessment", skills=(IDEMPOTENCY,)),
        item("Retries and backoff", locked=True, skills=(RETRIES,)),
        item("Caching", locked=True, skills=(CACHING,)),
    ]


def weak(competency: UUID, name: str, where: str = "Payments quiz") -> WeakCompetency:
    return WeakCompetency(competency_id=competency, slug=name.lower(), name=name, mastery=0.3, last_item_title=where)


def test_pathway_alone_gives_the_first_unlocked_items_not_done_in_course_order() -> None:
    path = course()
    picks = recommend(path)
    assert [p.title for p in picks] == ["HTTP basics", "Idempotency keys", "Payments quiz"]
    assert {p.reason for p in picks} == {PATHWAY_REASON}
    assert {p.signal for p in picks} == {"pathway"}


def test_a_weak_competency_points_at_the_lesson_that_covers_it_first() -> None:
    picks = recommend(course(), weak=[weak(IDEMPOTENCY, "idempotency keys")])
    assert picks[0].title == "Idempotency keys"
    assert picks[0].reason == "You struggled with *idempotency keys* in Payments quiz; this lesson covers it"
    # The pathway still shows what comes next, and the lesson is not recommended twice.
    assert [p.title for p in picks] == ["Idempotency keys", "HTTP basics", "Payments quiz"]


def test_a_weak_competency_taught_by_a_done_lesson_sends_the_learner_back_to_it() -> None:
    path = course()
    path[0] = item("Intro", done=True, skills=(CACHING,))
    picks = recommend(path, weak=[weak(CACHING, "caching", where="")])
    assert picks[0].title == "Intro"
    assert picks[0].reason == "You struggled with *caching*; this lesson covers it"


def test_a_weak_competency_taught_only_by_locked_items_recommends_nothing_for_it() -> None:
    picks = recommend(course(), weak=[weak(RETRIES, "retries")])
    assert [p.signal for p in picks] == ["pathway"] * 3
    assert all(p.title != "Retries and backoff" for p in picks)


def test_a_due_review_points_at_the_item_that_teaches_it() -> None:
    path = course()
    path[0] = item("Intro", done=True, skills=(CACHING,))
    due = [DueReview(competency_id=CACHING, name="caching", due_at=datetime(2026, 11, 1, tzinfo=UTC))]
    picks = recommend(path, due=due)
    assert picks[0].title == "Intro"  # done, but a review revisits it
    assert picks[0].reason == "Due for review: caching"
    assert picks[0].signal == "review"
    assert [p.signal for p in picks[1:]] == ["pathway", "pathway"]


def test_a_recent_tutor_question_points_at_an_open_item_that_answers_it() -> None:
    path = course()
    locked, done, answer = path[4].item_id, path[0].item_id, path[2].item_id
    question = "Why do payment APIs need idempotency keys? I keep double charging."
    asked = [AskedQuestion(question, (locked, done, answer))]
    picks = recommend(path, asked=asked)
    assert picks[0].item_id == answer  # the locked and the done item that matched better are skipped
    assert picks[0].reason == "You asked about *Why do payment APIs need idempotency keys*; this lesson covers it"
    assert picks[0].signal == "asked"


def test_all_four_reasons_together_one_of_each_first_and_at_most_three() -> None:
    path = course()
    path[0] = item("Intro", done=True, skills=(CACHING,))
    asked = [AskedQuestion("what is http", (path[1].item_id,))]
    due = [DueReview(competency_id=CACHING, name="caching", due_at=datetime(2026, 11, 1, tzinfo=UTC))]
    picks = recommend(path, weak=[weak(IDEMPOTENCY, "idempotency keys")], due=due, asked=asked)
    assert len(picks) == 3
    assert [p.signal for p in picks] == ["weak", "review", "asked"]
    assert [p.title for p in picks] == ["Idempotency keys", "Intro", "HTTP basics"]
    more = recommend(path, weak=[weak(IDEMPOTENCY, "idempotency keys")], due=due, asked=asked, limit=4)
    assert [p.signal for p in more] == ["weak", "review", "asked", "pathway"]
    assert more[3].title == "Payments quiz"


def test_locked_items_are_never_recommended() -> None:
    path = [item(f"Locked {n}", locked=True, skills=(IDEMPOTENCY,)) for n in range(4)]
    due = [DueReview(competency_id=IDEMPOTENCY, name="idempotency", due_at=datetime.now(UTC))]
    asked = [AskedQuestion("idempotency?", tuple(p.item_id for p in path))]
    assert recommend(path, weak=[weak(IDEMPOTENCY, "idempotency")], due=due, asked=asked) == []


def test_an_empty_course_or_everything_done_gives_nothing() -> None:
    assert recommend([]) == []
    assert recommend([item("A", done=True), item("B", done=True)]) == []


def test_topic_of_quotes_the_first_sentence_shortly() -> None:
    assert topic_of("  How do retries work?  And when to stop? ") == "How do retries work"
    assert topic_of("one two three four five six seven eight nine ten") == "one two three four five six seven eight…"
    assert topic_of("???") == ""
