from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base


class User(Base):
    """A person. Identity is global (one login can belong to several orgs); roles live in memberships."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: SSO-only account
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Raised by a password change or reset and by deactivation: tokens carry the version they were issued
    # under (claim ``ver``), and any older one is refused (app.domain.auth.revocation).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A DID the learner registered (e.g. did:key of their wallet): credentials issued afterwards name it as
    # credentialSubject.id instead of a pseudonymous urn:uuid (docs/credentials.md).
    credential_did: Mapped[str | None] = mapped_column(String(500), nullable=True)
