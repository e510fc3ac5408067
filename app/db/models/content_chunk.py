from __future__ import annotations

from uuid import UUID

from sqlalchemy import Computed, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

# The text-search document of a chunk: the item title weighs most, then the section heading, then the text.
CHUNK_TSVECTOR = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, heading), 'B') || "
    "to_tsvector('english'::regconfig, content)"
)


class ContentChunk(OrgScoped, Base):
    """A passage of learner-visible course content, indexed for search (app/domain/search).

    ``chunk_id`` is the hash of the chunk's place and text, so re-indexing unchanged content writes nothing;
    the vector index (Chroma, one collection per org) stores the same ids and is rebuilt from these rows."""

    __tablename__ = "content_chunks"
    __table_args__ = (
        UniqueConstraint("org_id", "chunk_id"),
        Index("ix_content_chunks_tsv", "tsv", postgresql_using="gin"),
    )

    chunk_id: Mapped[str] = mapped_column(String(64))
    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # lesson, exercise, assessment, prompt, module
    title: Mapped[str] = mapped_column(String(200))  # the item's title
    heading: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    tsv: Mapped[str] = mapped_column(TSVECTOR, Computed(CHUNK_TSVECTOR, persisted=True))
