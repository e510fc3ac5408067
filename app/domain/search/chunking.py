"""Course content cut into passages for search: on headings, then paragraphs, packed up to a size.

Only what learners may see is ever chunked: lesson, exercise and assessment bodies, the prompts of an
assessment (``learner_view``: never answers, explanations, hidden tests, reference solutions or rubric
exemplars) and module summaries. The size and overlap were chosen on the gold set
(tests/recommendations/gold.yaml; figures in docs/adaptive.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

MAX_CHARS = 900  # a chunk's text at most (a paragraph longer than this is cut between sentences)
OVERLAP_PARAGRAPHS = 1  # paragraphs repeated from the end of one chunk at the start of the next in a section

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Source:
    """One learner-visible text to chunk, and the item a hit on it leads to."""

    course_id: UUID
    item_id: UUID
    source: str  # lesson, exercise, assessment, prompt, module
    title: str
    text: str
    heading: str = ""


@dataclass(frozen=True, slots=True)
class Chunk:
    chunk_id: str
    course_id: UUID
    item_id: UUID
    source: str
    title: str
    heading: str
    position: int
    content: str

    def document(self) -> str:
        """The text embedded for the vector index: the item title and section heading give it context."""
        head = f"{self.title}. {self.heading}." if self.heading and self.heading != self.title else f"{self.title}."
        return f"{head}\n{self.content}"


@dataclass(frozen=True, slots=True)
class ChunkPolicy:
    max_chars: int = MAX_CHARS
    overlap_paragraphs: int = OVERLAP_PARAGRAPHS


def chunk_id(course_id: UUID, item_id: UUID, source: str, heading: str, content: str) -> str:
    """The hash of the chunk's place and text: the same content always gets the same id."""
    raw = "\x1f".join((str(course_id), str(item_id), source, heading, content))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


def clean(text: str) -> str:
    return _CONTROL.sub(" ", text.replace("\r\n", "\n"))


def sections(text: str) -> Iterator[tuple[str, list[str]]]:
    """(heading, paragraphs) in order; a fenced code block is one paragraph, whatever blank lines it has."""
    heading, paragraphs, current, fenced = "", [], [], False
    for line in clean(text).split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            current.append(line)
            continue
        if fenced:
            current.append(line)
            continue
        match = _HEADING.match(line)
        if match or not line.strip():
            if current:
                paragraphs.append("\n".join(current).strip())
                current = []
            if match:
                if paragraphs:
                    yield heading, paragraphs
                heading, paragraphs = match.group(2).strip()[:300], []
            continue
        current.append(line)
    if current:
        paragraphs.append("\n".join(current).strip())
    if paragraphs:
        yield heading, paragraphs


def _pieces(paragraph: str, limit: int) -> Iterator[str]:
    """A paragraph cut between sentences (words, for a sentence longer than ``limit``) into pieces of at
    most ``limit`` characters."""
    if len(paragraph) <= limit:
        yield paragraph
        return
    piece = ""
    for sentence in _SENTENCE.split(paragraph):
        words = [sentence] if len(sentence) <= limit else sentence.split()
        for word in words:
            while len(word) > limit:  # one unbroken token longer than a chunk
                if piece:
                    yield piece
                    piece = ""
                yield word[:limit]
                word = word[limit:]
            if piece and len(piece) + 1 + len(word) > limit:
                yield piece
                piece = ""
            piece = f"{piece} {word}" if piece else word
    if piece:
        yield piece


def pack(paragraphs: list[str], policy: ChunkPolicy) -> Iterator[str]:
    """Consecutive paragraphs joined up to ``max_chars``; each chunk after the first in a section starts
    with the last ``overlap_paragraphs`` of the previous one when they leave room for new text."""
    units = [piece for paragraph in paragraphs for piece in _pieces(paragraph, policy.max_chars)]
    chunk: list[str] = []
    fresh = 0  # paragraphs in ``chunk`` not already emitted
    for unit in units:
        size = sum(len(u) + 2 for u in chunk)
        if chunk and size + len(unit) > policy.max_chars:
            yield "\n\n".join(chunk)
            carry = chunk[-policy.overlap_paragraphs :] if policy.overlap_paragraphs else []
            while carry and sum(len(u) + 2 for u in carry) + len(unit) > policy.max_chars:
                carry = carry[1:]
            chunk, fresh = list(carry), 0
        chunk.append(unit)
        fresh += 1
    if chunk and fresh:
        yield "\n\n".join(chunk)


def chunk_sources(sources: Iterable[Source], policy: ChunkPolicy | None = None) -> list[Chunk]:
    """Every chunk of ``sources``, de-duplicated by id (the same passage twice in an item is one chunk)."""
    policy = policy or ChunkPolicy()
    chunks: dict[str, Chunk] = {}
    position = 0
    for source in sources:
        for heading, paragraphs in sections(source.text):
            heading = heading or source.heading
            for content in pack(paragraphs, policy):
                cid = chunk_id(source.course_id, source.item_id, source.source, heading, content)
                if cid not in chunks:
                    chunks[cid] = Chunk(
                        cid, source.course_id, source.item_id, source.source, source.title, heading, position, content
                    )
                    position += 1
    return list(chunks.values())


def assessment_prompts(learner_spec: dict[str, Any]) -> list[str]:
    """The prompts of an assessment as learners see them (pass ``learner_view(spec)``, never the spec)."""
    prompts = [learner_spec["prompt"]] if isinstance(learner_spec.get("prompt"), str) else []
    for question in learner_spec.get("questions") or []:
        if isinstance(question, dict) and isinstance(question.get("prompt"), str):
            prompts.append(question["prompt"])
    return prompts
