from __future__ import annotations

from uuid import UUID

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class Competency(OrgScoped, Base):
    """A skill a course certifies; items demonstrate competencies, gates require them."""

    __tablename__ = "competencies"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    course_id: Mapped[UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Bayesian Knowledge Tracing parameters (course YAML ``bkt:``; defaults in docs/adaptive.md).
    bkt_prior: Mapped[float] = mapped_column(Float, default=0.2, server_default="0.2")
    bkt_learn: Mapped[float] = mapped_column(Float, default=0.15, server_default="0.15")
    bkt_slip: Mapped[float] = mapped_column(Float, default=0.1, server_default="0.1")
    bkt_guess: Mapped[float] = mapped_column(Float, default=0.2, server_default="0.2")
