"""The one small interface every tutor model provider implements (Anthropic, offline)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Literal, Protocol

Mode = Literal["socratic", "hint", "explain"]
# How the tutor gives hints (experiments, issue 17): "ladder" = one authored hint per request (the default);
# "attempt_first" = before the first hint of a conversation it asks for the learner's own attempt.
HintPolicy = Literal["ladder", "attempt_first"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class RelatedItem:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Misconception:
    """An authored wrong idea: regular expressions that recognise it in a learner's message, the
    corrective explanation, an optional check question, and the title of the item it belongs to."""

    patterns: tuple[str, ...]
    correction: str
    check: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class TutorContext:
    """Course material around the learner's question. The offline tutor retrieves from it; the prompt
    builder summarises it for online models. ``protected`` texts (solutions, answer keys) are never
    to be revealed and are only present so filters can compare against them. ``course_protected``
    holds the same for every OTHER graded item of the course: a learner in a lesson session can still
    ask about the quiz, so the answer-extraction checks cover the whole course."""

    course_title: str
    mode: Mode = "socratic"
    item_title: str = ""
    item_body: str = ""
    item_kind: str = "lesson"
    graded: bool = False
    module_title: str = ""
    module_items: tuple[RelatedItem, ...] = ()
    related: tuple[RelatedItem, ...] = ()
    protected: tuple[str, ...] = ()
    course_protected: tuple[str, ...] = ()
    # Authored tutoring material: the item's hint ladder (most general first) and the misconceptions of
    # the item and of the lessons around it (module lessons, prerequisites), item's own first.
    hints: tuple[str, ...] = ()
    misconceptions: tuple[Misconception, ...] = ()
    # Set per turn by a running experiment's arm (``app/domain/experiments``); "ladder" otherwise.
    hint_policy: HintPolicy = "ladder"

    @property
    def has_graded_work(self) -> bool:
        """Whether answer requests matter here: the item is graded or the course has other graded items."""
        return self.graded or bool(self.course_protected)


@dataclass(frozen=True, slots=True)
class SourcePassage:
    """A passage of the learner's course retrieved for this turn (grounding): the item's title, the section
    heading and the chunk's text. Learner-visible course content, but data to the model, never instructions."""

    title: str
    heading: str
    text: str
    kind: str = "lesson"  # lesson, exercise, assessment, prompt (an assessment's question), module


@dataclass(frozen=True, slots=True)
class ModelRequest:
    system: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    model: str = ""
    temperature: float = 0.3
    context: TutorContext | None = None
    sources: tuple[SourcePassage, ...] = ()  # retrieved for the learner's message, best first


@dataclass(frozen=True, slots=True)
class StreamStart:
    """First event of every stream: which model answers and the input tokens it counted."""

    model: str
    input_tokens: int


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """Last event of a successful stream, with the provider-reported usage."""

    input_tokens: int
    output_tokens: int
    stop_reason: str = "end_turn"


StreamEvent = StreamStart | TextDelta | StreamEnd


@dataclass
class ProviderError(Exception):
    """A provider failure mapped to a clear client-facing code.

    code: ``overloaded`` | ``rate_limited`` | ``timeout`` | ``unavailable`` | ``bad_request`` | ``internal``
    """

    code: str
    detail: str
    retry_after: float | None = None
    output_tokens: int = 0  # tokens already streamed when it failed mid-stream
    extra: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class ModelProvider(Protocol):
    name: str  # "anthropic" | "offline"
    label: str  # shown to learners and in logs, e.g. "Offline tutor (built from course content)"

    def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        """StreamStart, then TextDelta*, then StreamEnd; or raise ProviderError (possibly mid-stream)."""
        ...

    async def count_tokens(self, request: ModelRequest) -> int:
        """Input tokens of ``request`` (the API's count when online, a local estimate offline)."""
        ...

    async def aclose(self) -> None: ...
