from __future__ import annotations

from uuid import UUID

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped

ITEM_KINDS = ("lesson", "exercise", "assessment")
BLOOM_LEVELS = ("remember", "understand", "apply", "analyze", "evaluate", "create")


class Item(OrgScoped, Base):
    """A node of the pathway graph: a lesson, exercise or assessment, tagged with a Bloom level."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("course_id", "slug"),
        CheckConstraint("kind in ('lesson', 'exercise', 'assessment')", name="kind_known"),
        CheckConstraint(
            "bloom_level in ('remember', 'understand', 'apply', 'analyze', 'evaluate', 'create')",
            name="bloom_level_known",
        ),
    )

    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[UUID] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown shown to learners
    bloom_level: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=10)
    # Never sent to learners: worked solution for exercises, used by graders and the tutor's leak filter.
    solution: Mapped[str] = mapped_column(Text, default="")
