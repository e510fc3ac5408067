from __future__ import annotations

from typing import Annotated, Literal

import msgspec

RetentionDays = Annotated[int, msgspec.Meta(ge=1, le=3650)]


class RetentionSettings(msgspec.Struct, forbid_unknown_fields=True):
    """How many days the org keeps AI transcript text; null keeps it forever."""

    transcript_retention_days: RetentionDays | None = None


class SelfErasureIn(msgspec.Struct, forbid_unknown_fields=True):
    """``confirm`` must be the word DELETE; ``current_password`` is required when the account has a password."""

    confirm: Literal["DELETE"]
    current_password: str | None = None


class AdminErasureIn(msgspec.Struct, forbid_unknown_fields=True):
    confirm: Literal["DELETE"]


class ErasureSummary(msgspec.Struct):
    """What was erased, as counts (summed over every org erased in)."""

    user_id: str
    orgs: int
    submissions: int = 0
    grades: int = 0
    review_items: int = 0
    ai_feedback: int = 0
    transcripts: int = 0
    transcript_files_deleted: int = 0
    mastery_estimates: int = 0
    review_cards: int = 0
    sso_identities: int = 0
    lti_links: int = 0
    invitations: int = 0
    data_exports: int = 0
    credentials_revoked: int = 0
    audit_entries_redacted: int = 0
