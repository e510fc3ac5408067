from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class PromptTemplate(OrgScoped, Base):
    """An org's override of a prompt template version from content/prompts/ (admins edit these).

    Active versions of one name form an experiment: each learner is assigned one deterministically,
    with probability proportional to ``weight``.
    """

    __tablename__ = "prompt_templates"
    __table_args__ = (UniqueConstraint("org_id", "name", "version"),)

    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(60))
    system: Mapped[str] = mapped_column(Text)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
