"""Grounding a tutor turn in its course: the best passages for the learner's message, from the search
domain's ranking (``SearchService.passages``: the same hybrid fusion as ``GET /v1/search``, restricted to
the learner's enrolled, published course; chunks only ever hold learner-visible text).

Retrieval runs beside the turn's set-up I/O and is bounded by ``LYCEUM_TUTOR_RETRIEVAL_TIMEOUT_SECONDS``
(Chroma by half of it): a slow or failing Chroma gives text-only passages, anything slower or failing
beyond that gives none. Every degradation is a metric and a log line, never a failed turn.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
import structlog
from prometheus_client import Counter, Histogram

from app.domain.search.schemas import Passage
from app.domain.search.services import SearchService
from app.domain.tutor.providers.base import SourcePassage
from app.domain.tutor.schemas import Source
from app.lib.observability import REGISTRY

log = structlog.get_logger("lyceum.tutor")

RETRIEVAL_SECONDS = Histogram(
    "lyceum_tutor_retrieval_seconds",
    "Time a tutor turn spent retrieving its course passages (runs beside the turn's set-up)",
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
RETRIEVAL_FALLBACKS = Counter(
    "lyceum_tutor_retrieval_fallbacks_total",
    "Tutor turns grounded on less than the hybrid ranking: text_only (Chroma failed or was slow), "
    "timeout or error (no sources)",
    ["reason"],
    registry=REGISTRY,
)
SHORT_QUESTION_WORDS = 4  # "why?", "and then?": the item's title says what the question is about


@dataclass(frozen=True, slots=True)
class Grounding:
    """What a turn's retrieval found. ``degraded``: "" (hybrid), "text_only", "timeout", "error", "off"."""

    passages: tuple[Passage, ...] = ()
    retrieval_ms: int | None = None
    degraded: str = ""

    def for_model(self) -> tuple[SourcePassage, ...]:
        return tuple(
            SourcePassage(title=p.title, heading=p.heading, text=p.content, kind=p.source) for p in self.passages
        )

    def recorded(self) -> list[dict[str, Any]]:
        """Which chunks the turn used (the ``ai_interactions.sources`` column)."""
        return [{"chunk_id": p.chunk_id, "item_id": str(p.item_id), "score": round(p.score, 6)} for p in self.passages]

    def shown(self) -> list[Source]:
        """The ``done`` event's ``sources`` (also kept with the turn's content, for replays and transcripts)."""
        return [
            Source(item_id=p.item_id, title=p.title, snippet=p.snippet, score=round(p.score, 6)) for p in self.passages
        ]


NO_GROUNDING = Grounding(degraded="off")


def query_for(message: str, item_title: str) -> str:
    """The learner's message; a very short one (a follow-up) with the item's title, which names its topic."""
    if item_title and len(message.split()) < SHORT_QUESTION_WORDS:
        return f"{message} {item_title}"
    return message


@dataclass(eq=False, repr=False, slots=True)
class Retriever:
    """Retrieves for one conversation's turns: ``search`` acts for the learner (their tenant, their enrolments)."""

    search: SearchService
    course_id: UUID
    limit: int
    timeout: float

    async def retrieve(self, message: str, item_title: str = "") -> Grounding:
        """Never raises (but for cancellation): every failure is a Grounding without passages."""
        if self.limit <= 0:
            return NO_GROUNDING
        started = time.perf_counter()
        degraded = ""
        passages: tuple[Passage, ...] = ()
        try:
            found = await asyncio.wait_for(
                self.search.passages(query_for(message, item_title), self.course_id, self.limit, self.timeout / 2),
                self.timeout,
            )
            passages = tuple(found.passages)
            degraded = "" if found.vector else "text_only"
        except TimeoutError:
            degraded = "timeout"
        except Exception as exc:  # a database hiccup must cost the sources, not the learner's turn
            degraded = "error"
            log.warning("tutor_retrieval_failed", error=f"{type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - started
        RETRIEVAL_SECONDS.observe(elapsed)
        if degraded:
            RETRIEVAL_FALLBACKS.labels(degraded).inc()
            log.warning(
                "tutor_retrieval_degraded",
                reason=degraded,
                sources=len(passages),
                course_id=str(self.course_id),
                ms=round(elapsed * 1000, 1),
            )
        return Grounding(passages=passages, retrieval_ms=round(elapsed * 1000), degraded=degraded)


def stored_sources(content: dict[str, Any]) -> list[Source]:
    """The ``sources`` kept with a turn's content (replays, transcripts); none for turns before grounding."""
    try:
        return msgspec.convert(content.get("sources") or [], list[Source])
    except msgspec.ValidationError:
        return []
