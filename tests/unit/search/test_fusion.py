"""Reciprocal rank fusion at item level, highlighting, and query checks."""

from __future__ import annotations

import uuid

import pytest

from app.domain.search.services import RRF_K, fuse, highlight, normalise_query
from app.lib.errors import ValidationFailed

C = uuid.uuid4()
A, B, D = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_items_rank_by_their_best_chunk_and_both_lists_add_up() -> None:
    text = [("t1", A, C), ("t2", A, C), ("t3", B, C)]
    vector = [("v1", B, C), ("v2", D, C), ("v3", A, C)]
    ranked = fuse(text, vector)
    assert [r.item_id for r in ranked] == [B, A, D] or [r.item_id for r in ranked] == [A, B, D]
    scores = {r.item_id: r.score for r in ranked}
    assert scores[A] == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 3))
    assert scores[B] == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert scores[D] == pytest.approx(1 / (RRF_K + 2))
    assert next(r for r in ranked if r.item_id == A).chunk == "t1"  # the text passage is the snippet's
    assert next(r for r in ranked if r.item_id == D).chunk == "v2"


def test_one_list_alone_keeps_its_order() -> None:
    assert [r.item_id for r in fuse([], [("v1", D, C), ("v2", A, C)])] == [D, A]
    assert fuse([], []) == []


def test_highlights_are_marks_in_escaped_text() -> None:
    assert highlight("use \x02<b>tokens\x03 & more") == "use <mark>&lt;b&gt;tokens</mark> &amp; more"


def test_queries_are_trimmed_and_must_not_be_empty_or_huge() -> None:
    assert normalise_query("  cache \n  stampede ") == "cache stampede"
    for bad in (None, "", "   \n"):
        with pytest.raises(ValidationFailed):
            normalise_query(bad)
    with pytest.raises(ValidationFailed):
        normalise_query("x" * 501)
