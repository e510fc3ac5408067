"""The state a tutoring turn works on: the chat session it belongs to and what the turn has produced so far.

Its own module so that the turn runner (turns.py), the feed announcements (feed.py), the service that
loads a session (services.py) and the socket share these types without importing each other."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from uuid import UUID

from app.domain.tutor.budgets import BudgetLimits, Reservation
from app.domain.tutor.grounding import NO_GROUNDING, Grounding
from app.domain.tutor.guardrails.model_check import CheckResult
from app.domain.tutor.guardrails.pipeline import GuardrailOutcome
from app.domain.tutor.providers.base import ModelRequest, TutorContext


@dataclass(frozen=True, slots=True)
class ChatSession:
    """A tutoring session loaded for chatting: who, where, and the course material around it."""

    id: UUID
    org_id: UUID
    org_slug: str
    user_id: UUID
    course_id: UUID
    item_id: UUID | None
    context: TutorContext
    limits: BudgetLimits


@dataclass
class TurnState:
    """What a turn has produced so far; recorded whether it completes, is blocked, fails or is cancelled."""

    message_id: str
    user_text: str = ""
    released: list[str] = field(default_factory=list)
    received_chars: int = 0
    outcomes: list[GuardrailOutcome] = field(default_factory=list)
    model: str = ""
    prompt_version: str = ""
    input_tokens: int = 0
    output_tokens: int | None = None
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    status: str = "completed"
    error_code: str = ""
    reservation: Reservation | None = None
    request: ModelRequest | None = None
    finished: bool = False  # recorded (completed, blocked, failed): nothing left to do on cancel
    # The model-based input check running beside the reply, and when the reply stops waiting for it.
    check: asyncio.Task[CheckResult] | None = None
    check_deadline: float = 0.0
    grounding: Grounding = NO_GROUNDING  # the course passages retrieved for this message
    # The running experiment covering the learner and their arm ("control" or a variant key), if any.
    experiment_id: UUID | None = None
    experiment_variant: str | None = None

    @property
    def reply(self) -> str:
        return "".join(self.released)

    def used_output_tokens(self) -> int:
        return self.output_tokens if self.output_tokens is not None else -(-self.received_chars // 4)
