"""The answer of every export route: the state of one export, and its download link once it is ready."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class DataExportOut(msgspec.Struct):
    """``pending`` (202, poll again after Retry-After) or ``ready`` (200, with ``download_url``)."""

    id: UUID
    status: str
    requested_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None
    size_bytes: int | None
    download_url: str | None  # /v1/exports/<signed token>; no session needed, valid until expires_at
