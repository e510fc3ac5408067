"""Tutoring sessions: create, load for chatting (owner only), transcripts, learner feedback."""

from __future__ import annotations

import dataclasses
from typing import Any, cast
from uuid import UUID

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import AIFeedback, AIInteraction, AISession, Course, Item, Organization, OrgBudget
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.courses.services import course_open_to
from app.domain.tutor import bus_events
from app.domain.tutor.budgets import BudgetLimits
from app.domain.tutor.chat import ChatSession
from app.domain.tutor.chat_cache import Versions
from app.domain.tutor.components import TutorComponents
from app.domain.tutor.context import build_material, mode_of
from app.domain.tutor.grounding import stored_sources
from app.domain.tutor.providers.base import Mode as ContextMode
from app.domain.tutor.providers.base import TutorContext
from app.domain.tutor.schemas import (
    MODES,
    FeedbackIn,
    FeedbackOut,
    Mode,
    SessionCreate,
    SessionOut,
    Transcript,
    TranscriptTurn,
)
from app.lib.errors import Forbidden, NotFound
from app.lib.events import EventBus


async def budget_limits(session: AsyncSession, settings: Settings) -> BudgetLimits:
    """The org's configured budgets (admins set them), falling back to configuration defaults."""
    row = await session.scalar(select(OrgBudget))
    return BudgetLimits(
        org_monthly=(row and row.org_monthly_tokens) or settings.budget_org_monthly_tokens,
        course_monthly=(row and row.course_monthly_tokens) or settings.budget_course_monthly_tokens,
        user_daily=(row and row.user_daily_tokens) or settings.budget_user_daily_tokens,
        session=(row and row.session_tokens) or settings.budget_session_tokens,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRow:
    """What a connection needs of a session's row; only the mode ever changes (a resume bumps its version)."""

    user_id: UUID
    course_id: UUID
    item_id: UUID | None
    mode: ContextMode


@dataclasses.dataclass(frozen=True, slots=True)
class Material:
    """What every session on one course item shares: the tutor's material, the org's slug and limits."""

    context: TutorContext
    org_slug: str
    limits: BudgetLimits


def with_mode(chat: ChatSession, mode: str | None) -> ChatSession:
    """The session as one message sees it: the mode is a per-message setting (the conversation's own
    mode is the default for messages without one)."""
    if mode is None or mode == chat.context.mode or mode not in MODES:
        return chat
    return dataclasses.replace(chat, context=dataclasses.replace(chat.context, mode=cast(Mode, mode)))


@dataclasses.dataclass(eq=False, repr=False, kw_only=True)
class TutorService(TenantService):
    """Sessions of the caller's (``tutor``: the model provider, and the object store holding transcripts);
    a new session is announced on ``events``; budgets default to ``settings``."""

    settings: Settings
    tutor: TutorComponents
    events: EventBus

    def _out(self, chat: AISession) -> SessionOut:
        provider = self.tutor.provider
        base = f"/v1/tutor/sessions/{chat.id}"
        return SessionOut(
            id=chat.id,
            course_id=chat.course_id,
            item_id=chat.item_id,
            mode=chat.mode,
            status=chat.status,
            created_at=chat.created_at,
            provider=provider.name,
            provider_label=provider.label,
            offline=provider.name == "offline",
            websocket_url=f"{base}/ws",
            messages_url=f"{base}/messages",
        )

    async def create(self, data: SessionCreate) -> SessionOut:
        """A new conversation for this course and item, closing the learner's open one; with ``resume``,
        the open one when there is one. Two tabs opening the same item at once meet at the unique index: the loser
        retries once and finds the winner's conversation."""
        try:
            return await self._open(data)
        except IntegrityError:
            return await self._open(data)

    async def _open(self, data: SessionCreate) -> SessionOut:
        out, mode_changed = await self._open_tx(data)
        chats, org_id = self.tutor.chats, self.principal.org_id
        if mode_changed:  # after the commit: connections loaded from now on see the new default mode
            await chats.invalidate_session(out.id)
        # The learner connects next: remember the row, so their socket need not read it back.
        row = SessionRow(self.principal.user_id, out.course_id, out.item_id, mode_of(out.mode))
        chats.put("session", org_id, out.id, await chats.versions(org_id, out.id), row)
        return out

    async def _open_tx(self, data: SessionCreate) -> tuple[SessionOut, bool]:
        async with self._tx() as session:
            course = await session.scalar(
                select(Course).where(Course.id == data.course_id, course_open_to(self.principal))
            )
            if course is None:  # unpublished courses stay open to their enrolled learners (issue 17)
                raise NotFound("No such course in your organization")
            if data.item_id is not None:
                item = await session.get(Item, data.item_id)
                if item is None or item.course_id != data.course_id:
                    raise NotFound("No such item in this course")
            existing = await session.scalar(
                select(AISession)
                .where(
                    AISession.user_id == self.principal.user_id,
                    AISession.course_id == course.id,
                    AISession.item_id.is_(None) if data.item_id is None else AISession.item_id == data.item_id,
                    AISession.status == "open",
                )
                .with_for_update()
            )
            if existing is not None and data.resume:
                mode_changed = existing.mode != data.mode
                existing.mode = data.mode  # the default for messages sent without a mode
                out = self._out(existing)
                out.reused = True
                return out, mode_changed
            if existing is not None:
                existing.status = "closed"
                record_audit_by(
                    session,
                    self.principal,
                    action="tutor.session_closed",
                    entity_type="ai_session",
                    entity_id=existing.id,
                    after={"reason": "new_conversation"},
                    request_id=self.request_id,
                )
                await session.flush()  # closed before the new one meets the one-open-conversation index
            chat = AISession(
                org_id=self.principal.org_id,
                user_id=self.principal.user_id,
                course_id=course.id,
                item_id=data.item_id,
                mode=data.mode,
                status="open",
            )
            session.add(chat)
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="tutor.session_started",
                entity_type="ai_session",
                entity_id=chat.id,
                after={"course_id": str(course.id), "mode": data.mode},
                request_id=self.request_id,
            )
            out = self._out(chat)
        p = self.principal  # announced after the commit, in the background (never delays the response)
        bus_events.session_started(self.events, p.org_id, chat.id, p.user_id, course.id, data.item_id, data.mode)
        return out, False

    async def for_chat(self, session_id: UUID) -> ChatSession:
        """Only the learner who owns a session may talk in it (instructors read transcripts).

        Two parts, each cached per process while its versions hold (``chat_cache.py``): the session's row
        (owner, course, item, default mode; cached when this process opened or loaded the session) and
        the material of its course and item with the org's slug and budget limits (shared by every
        session on that item). A connection to a known session costs one Redis MGET; a new session on a
        known item one single-row query, instead of eight queries in both cases."""
        chats, org_id = self.tutor.chats, self.principal.org_id
        versions = await chats.versions(org_id, session_id)
        row = chats.get("session", org_id, session_id, versions)
        material = chats.get("material", org_id, (row.course_id, row.item_id), versions) if row else None
        if not isinstance(row, SessionRow) or not isinstance(material, Material):
            row, material = await self._load_chat(session_id, row, versions)
        if row.user_id != self.principal.user_id:
            raise Forbidden("This tutoring session belongs to someone else")
        context = material.context
        if context.mode != row.mode:
            context = dataclasses.replace(context, mode=row.mode)
        return ChatSession(
            id=session_id,
            org_id=org_id,
            org_slug=material.org_slug,
            user_id=row.user_id,
            course_id=row.course_id,
            item_id=row.item_id,
            context=context,
            limits=material.limits,
        )

    async def _load_chat(
        self, session_id: UUID, row: SessionRow | None, versions: Versions | None
    ) -> tuple[SessionRow, Material]:
        """One transaction for what the cache did not hold (RLS: only this org's session can be found)."""
        chats, org_id = self.tutor.chats, self.principal.org_id
        async with self._tx() as session:
            if row is None:
                found = (
                    await session.execute(
                        select(AISession.user_id, AISession.course_id, AISession.item_id, AISession.mode).where(
                            AISession.id == session_id
                        )
                    )
                ).first()
                if found is None:
                    raise NotFound("No such tutoring session")
                row = SessionRow(found.user_id, found.course_id, found.item_id, mode_of(found.mode))
                if row.user_id != self.principal.user_id:
                    raise Forbidden("This tutoring session belongs to someone else")
                chats.put("session", org_id, session_id, versions, row)
            material = chats.get("material", org_id, (row.course_id, row.item_id), versions)
            if not isinstance(material, Material):
                org = await session.get(Organization, org_id)
                assert org is not None
                material = Material(
                    context=await build_material(session, row.course_id, row.item_id),
                    org_slug=org.slug,
                    limits=await budget_limits(session, self.settings),
                )
                chats.put("material", org_id, (row.course_id, row.item_id), versions, material)
        return row, material

    async def transcript(self, session_id: UUID) -> Transcript:
        async with self._tx() as session:
            chat = await session.get(AISession, session_id)
            if chat is None:
                raise NotFound("No such tutoring session")
            if chat.user_id != self.principal.user_id and not self.principal.is_staff:
                raise Forbidden("You can read your own tutoring sessions only")
            rows = list(
                await session.scalars(
                    select(AIInteraction).where(AIInteraction.session_id == chat.id).order_by(AIInteraction.created_at)
                )
            )
            out = self._out(chat)
        turns = [await self._turn(row) for row in rows]
        return Transcript(session=out, user_id=chat.user_id, turns=turns)

    async def _turn(self, row: AIInteraction) -> TranscriptTurn:
        content: dict[str, Any] = {}
        if row.content_purged_at is None:  # a purged turn's text is gone (retention or erasure): shown empty
            try:
                content = msgspec.json.decode(await self.tutor.objects.get(row.object_key))
            except (FileNotFoundError, msgspec.DecodeError):
                content = {}
        return TranscriptTurn(
            interaction_id=row.id,
            client_message_id=row.client_message_id,
            user=content.get("user", ""),
            reply=content.get("reply", ""),
            status=row.status,
            created_at=row.created_at,
            model=row.model,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            confidence=row.confidence,
            guardrails=list(row.guardrail_outcomes),
            mode=row.mode,
            sources=stored_sources(content),
            purged=row.content_purged_at is not None,
        )

    async def feedback(self, interaction_id: UUID, data: FeedbackIn) -> FeedbackOut:
        async with self._tx() as session:
            interaction = await session.get(AIInteraction, interaction_id)
            if interaction is None or interaction.purpose != "tutor":
                raise NotFound("No such tutor reply")
            if interaction.user_id != self.principal.user_id:
                raise Forbidden("You can rate replies in your own conversations only")
            existing = await session.scalar(
                select(AIFeedback).where(
                    AIFeedback.interaction_id == interaction_id,
                    AIFeedback.user_id == self.principal.user_id,
                    AIFeedback.source == "learner_rating",
                )
            )
            if existing is not None:  # rating again replaces the earlier rating
                existing.rating, existing.comment = data.rating, data.comment
                return FeedbackOut(
                    id=existing.id, interaction_id=interaction_id, rating=data.rating, comment=data.comment
                )
            row = AIFeedback(
                org_id=self.principal.org_id,
                source="learner_rating",
                user_id=self.principal.user_id,
                interaction_id=interaction_id,
                rating=data.rating,
                comment=data.comment,
                details={"prompt_version": interaction.prompt_version},
            )
            session.add(row)
            await session.flush()
            return FeedbackOut(id=row.id, interaction_id=interaction_id, rating=data.rating, comment=data.comment)
