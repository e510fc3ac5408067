"""Course authoring in the browser (issue 17): the draft an instructor edits, kept apart from the live rows
learners read (``courses``, ``modules``, ``items``, ``assessments``...), and the immutable published versions.

- ``course_drafts``: one per authored course, the YAML as last saved; ``course_id`` is set by the first
  publish (the live course it writes). Editing a draft changes nothing learners see.
- ``course_versions``: what each publish wrote, never changed afterwards (an append-only trigger refuses
  UPDATE and DELETE): the YAML, its content hash, the version number, the item slugs, who and when.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB as JsonB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class CourseDraft(OrgScoped, Base):
    __tablename__ = "course_drafts"
    __table_args__ = (UniqueConstraint("org_id", "slug"), Index("ix_course_drafts_slug", "slug"))

    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)  # the YAML exactly as the author saved it
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of ``source``
    course_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    updated_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class CourseVersion(OrgScoped, Base):
    __tablename__ = "course_versions"
    __table_args__ = (UniqueConstraint("course_id", "version"),)

    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    item_slugs: Mapped[list[str]] = mapped_column(JsonB, default=list)
    published_by: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
