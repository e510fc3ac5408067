"""The plain-text snippet of a tutor source: the sentence closest to the question and what follows it."""

from __future__ import annotations

from app.domain.search.services import SNIPPET_CHARS, plain_snippet

LESSON = (
    "Sessions keep state on the server.\n\nNever store a password, encrypted or not. Store the output of a "
    "deliberately slow, salted password hashing function such as Argon2id. " + "Filler sentence here. " * 30
)


def test_the_snippet_starts_at_the_sentence_about_the_question_and_stays_short() -> None:
    snippet = plain_snippet(LESSON, "How should I store user passwords?")
    assert snippet.startswith("Never store a password")
    assert "Argon2id" in snippet
    assert len(snippet) <= SNIPPET_CHARS
    assert "\n" not in snippet


def test_no_shared_words_gives_the_opening_and_empty_text_gives_nothing() -> None:
    assert plain_snippet(LESSON, "zzz").startswith("Sessions keep state")
    assert plain_snippet("", "passwords") == ""
    long_sentence = "word " * 200
    assert len(plain_snippet(long_sentence, "word")) <= SNIPPET_CHARS
