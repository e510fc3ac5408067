from __future__ import annotations

from sqlalchemy import Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, OrgScoped


class OrgBudget(OrgScoped, Base):
    """An org's tutor token budgets, set by its admins; missing values fall back to configuration."""

    __tablename__ = "org_budgets"
    __table_args__ = (UniqueConstraint("org_id"),)

    org_monthly_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    course_monthly_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_daily_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    session_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
