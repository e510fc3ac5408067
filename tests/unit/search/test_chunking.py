"""Chunking: headings and paragraphs, sizes, overlap, content-hash ids, learner-visible prompts only."""

from __future__ import annotations

import itertools
import uuid

from app.domain.search.chunking import (
    ChunkPolicy,
    Source,
    assessment_prompts,
    chunk_id,
    chunk_sources,
    pack,
    sections,
)

COURSE, ITEM = uuid.uuid4(), uuid.uuid4()

LESSON = """Intro paragraph about requests.

### Methods carry promises

GET is safe. PUT is idempotent.

```python
def f():

    return 1
```

### Status codes

2xx worked, 4xx the client must change something.
"""


def test_sections_split_on_headings_and_keep_code_blocks_whole() -> None:
    found = list(sections(LESSON))
    assert [heading for heading, _ in found] == ["", "Methods carry promises", "Status codes"]
    methods = found[1][1]
    assert methods[0] == "GET is safe. PUT is idempotent."
    assert methods[1].startswith("```python")
    assert "return 1" in methods[1]


def test_chunks_stay_within_the_size_and_overlap_by_a_paragraph() -> None:
    paragraphs = [f"Paragraph {n} " + "word " * 30 for n in range(10)]
    chunks = list(pack(paragraphs, ChunkPolicy(max_chars=400, overlap_paragraphs=1)))
    assert len(chunks) > 2
    assert all(len(c) <= 400 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after.split("\n\n")[0] == before.split("\n\n")[-1]  # the overlap
    assert list(pack(paragraphs, ChunkPolicy(max_chars=400, overlap_paragraphs=0)))[1].startswith("Paragraph")


def test_a_paragraph_longer_than_a_chunk_is_cut_between_sentences_and_words() -> None:
    long = " ".join(f"Sentence number {n} says something." for n in range(100)) + " " + "x" * 2000
    chunks = list(pack([long], ChunkPolicy(max_chars=300, overlap_paragraphs=0)))
    assert all(len(c) <= 300 for c in chunks)
    assert chunks[0].endswith(".")
    assert "".join(c.replace(" ", "") for c in chunks).count("x") == 2000


def test_ids_are_content_hashes_so_reindexing_is_idempotent() -> None:
    source = Source(COURSE, ITEM, "lesson", "The life of a request", LESSON)
    first, again = chunk_sources([source]), chunk_sources([source])
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    changed = chunk_sources([Source(COURSE, ITEM, "lesson", "The life of a request", LESSON.replace("GET", "HEAD"))])
    assert len({c.chunk_id for c in first} ^ {c.chunk_id for c in changed}) == 2  # only the edited chunk
    assert first[0].chunk_id == chunk_id(COURSE, ITEM, "lesson", "", first[0].content)
    assert len(first[0].chunk_id) == 40


def test_the_document_embedded_carries_title_and_heading() -> None:
    chunk = chunk_sources([Source(COURSE, ITEM, "lesson", "The life of a request", LESSON)])[1]
    assert chunk.heading == "Methods carry promises"
    assert chunk.document().startswith("The life of a request. Methods carry promises.\n")


def test_control_characters_never_reach_a_chunk() -> None:
    chunks = chunk_sources([Source(COURSE, ITEM, "lesson", "T", "a\x00b\x02c\x03d")])
    assert chunks[0].content == "a b c d"


def test_only_prompts_of_the_learner_view_are_taken() -> None:
    spec = {"prompt": "Design the API.", "questions": [{"prompt": "Which method is safe?", "options": ["GET"]}]}
    assert assessment_prompts(spec) == ["Design the API.", "Which method is safe?"]
    assert assessment_prompts({"rubric": {"criteria": []}}) == []
