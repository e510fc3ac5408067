"""Tutor API shapes: requests, responses and the streamed events shared by WebSocket and SSE."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

Mode = Literal["socratic", "hint", "explain"]
MODES: frozenset[str] = frozenset(("socratic", "hint", "explain"))


class SessionCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A learner has one open conversation per course and item. Starting one closes the open one
    ("New conversation"); with ``resume`` the open one is returned instead when there is one (``reused``;
    ``mode`` becomes its default for messages sent without a mode), which is what the web app does on
    load so a reload or a mode switch keeps the conversation."""

    course_id: UUID
    item_id: UUID | None = None
    mode: Mode = "socratic"
    resume: bool = False


class SessionOut(msgspec.Struct):
    id: UUID
    course_id: UUID
    item_id: UUID | None
    mode: str
    status: str
    created_at: datetime
    provider: str
    provider_label: str
    offline: bool
    websocket_url: str
    messages_url: str
    reused: bool = False  # an open conversation was returned instead of a new one


class Source(msgspec.Struct):
    """A passage of the course the reply was grounded on (a contract): the item it comes from (a link to it
    in the course player), its title, the passage as plain text, and its search score (higher is better;
    comparable within one reply only)."""

    item_id: UUID
    title: str
    snippet: str
    score: float


class TranscriptTurn(msgspec.Struct):
    interaction_id: UUID
    client_message_id: str | None
    user: str
    reply: str
    status: str
    created_at: datetime
    model: str
    input_tokens: int
    output_tokens: int
    confidence: float | None
    guardrails: list[dict[str, Any]]
    mode: str | None = None  # the mode this message was sent in; null for turns recorded before 0007
    sources: list[Source] = msgspec.field(default_factory=list)  # what the reply was grounded on (0010)
    # The text was deleted by the org's retention or an erasure (0026): user and reply are empty, metrics stay.
    purged: bool = False


class Transcript(msgspec.Struct):
    session: SessionOut
    user_id: UUID
    turns: list[TranscriptTurn]


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    """SSE body. ``id`` is the client's message id: a resend with the same id is answered once. ``mode``
    is this message's tutor mode; without it, the conversation's default (the mode it was opened with)."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    mode: Mode | None = None


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class FeedbackOut(msgspec.Struct):
    id: UUID
    interaction_id: UUID
    rating: int
    comment: str


# --- streamed events (JSON objects on the WebSocket, `event:` names on SSE) ---------------------------


class Usage(msgspec.Struct):
    input_tokens: int
    output_tokens: int


class Budget(msgspec.Struct):
    remaining_tokens: int


class DeltaEvent(msgspec.Struct, tag="delta", tag_field="type"):
    text: str
    message_id: str = ""


class DoneEvent(msgspec.Struct, tag="done", tag_field="type"):
    interaction_id: UUID
    usage: Usage
    confidence: float
    guardrails: list[dict[str, Any]]
    budget: Budget
    message_id: str = ""
    provider: str = ""
    provider_label: str = ""
    model: str = ""
    prompt_version: str = ""
    status: str = "completed"  # completed | cancelled
    # The course passages the reply was grounded on, best first; empty when retrieval found none or failed.
    sources: list[Source] = msgspec.field(default_factory=list)


class BlockedEvent(msgspec.Struct, tag="blocked", tag_field="type"):
    policy: str
    reason: str
    message_id: str = ""
    resets_at: datetime | None = None
    interaction_id: UUID | None = None


class ErrorEvent(msgspec.Struct, tag="error", tag_field="type"):
    code: str
    detail: str
    message_id: str = ""
    retry_after: float | None = None
    interaction_id: UUID | None = None


TutorEvent = DeltaEvent | DoneEvent | BlockedEvent | ErrorEvent
