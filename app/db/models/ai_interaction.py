from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class AIInteraction(OrgScoped, Base):
    """One model call (high volume). The text itself lives in the object store, referenced by hash."""

    __tablename__ = "ai_interactions"
    __table_args__ = (
        UniqueConstraint("session_id", "client_message_id"),
        # The usage rollup's refresh reads by (org, creation time) (migration 0019).
        Index("ix_ai_interactions_org_created", "org_id", "created_at"),
        Index("ix_ai_interactions_experiment_id", "experiment_id", postgresql_where="experiment_id is not null"),
    )

    session_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("ai_sessions.id", ondelete="CASCADE"), index=True, nullable=True
    )
    user_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    course_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    item_id: Mapped[UUID | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"), nullable=True)
    # The client's id for the learner message: a resent message after a reconnect is answered once.
    client_message_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    provider: Mapped[str] = mapped_column(String(30), default="")
    error_code: Mapped[str] = mapped_column(String(40), default="")
    purpose: Mapped[str] = mapped_column(String(30), default="tutor")  # tutor | grading | preview
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the stored transcript object
    object_key: Mapped[str] = mapped_column(String(300))
    model: Mapped[str] = mapped_column(String(100))
    prompt_name: Mapped[str] = mapped_column(String(100), default="")
    prompt_version: Mapped[str] = mapped_column(String(60), default="")
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    latency_first_token_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_total_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="completed")
    guardrail_outcomes: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    # The tutor mode the learner chose for this message (socratic | hint | explain); null for grading and
    # for turns recorded before modes were per message (migration 0007).
    mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # The course chunks the reply was grounded on, best first: [{"chunk_id", "item_id", "score"}] (migration
    # 0010; empty when retrieval found none or failed, and for turns recorded before grounding).
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list, server_default="[]")
    # How long the turn's retrieval took (it runs beside the set-up, so it is not added to the first token).
    latency_retrieval_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The running experiment that covered the learner on this turn and the arm they were in ("control" or a
    # variant key); null when no experiment covered them (migration 0024).
    experiment_id: Mapped[UUID | None] = mapped_column(ForeignKey("experiments.id", ondelete="SET NULL"), nullable=True)
    experiment_variant: Mapped[str | None] = mapped_column(String(60), nullable=True)
    # When the transcript text was deleted by a retention purge or an erasure (migration 0026): the row, its
    # hash, tokens, cost and guardrail outcomes stay; ``object_key`` stays too (it names content that is gone).
    content_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
