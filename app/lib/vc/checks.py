"""What every verifying module shares: the result of one check, and XSD dateTime handling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Check:
    check: str
    passed: bool
    detail: str


# XSD dateTime as VC 2.0 requires for validFrom/validUntil: a time zone offset or "Z" is required here,
# since a credential's validity must not depend on the verifier's local time.
_DATETIME = re.compile(r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def xsd_datetime(moment: datetime) -> str:
    """UTC, second precision, "Z" suffix: the form OBv3 examples and JWT NumericDates agree on."""
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: object) -> datetime | None:
    """An aware datetime from an XSD dateTime string with a zone, else ``None`` (never raises)."""
    if not isinstance(value, str) or len(value) > 40 or not _DATETIME.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
