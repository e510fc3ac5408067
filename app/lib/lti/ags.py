"""Assignment and Grade Services 2.0 (AGS): the wire shapes of scores and line items, pure.

What is sent when lives in ``app/domain/lti/ags.py``; this module only builds payloads and URLs, so each rule
of the spec has a unit test (tests/unit/lti/test_ags.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

SCORE_MEDIA_TYPE: Final = "application/vnd.ims.lis.v1.score+json"
LINEITEM_MEDIA_TYPE: Final = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEM_CONTAINER_MEDIA_TYPE: Final = "application/vnd.ims.lis.v2.lineitemcontainer+json"

SCOPE_LINEITEM: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/score"

ActivityProgress = Literal["Initialized", "Started", "InProgress", "Submitted", "Completed"]
GradingProgress = Literal["FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"]
PENDING_MANUAL: Final = "PendingManual"
FULLY_GRADED: Final = "FullyGraded"
# Later states win: a score of a lower rank never replaces one of a higher rank for the same attempt.
GRADING_RANK: Final[dict[str, int]] = {"NotReady": 0, "Failed": 0, "Pending": 1, "PendingManual": 2, "FullyGraded": 3}

SCORE_DECIMALS = 4  # gradebooks show two or three; four keeps 1/3 of 10 points from reading as 3.33 of 10.00


def iso_timestamp(at: datetime) -> str:
    """ISO 8601 with milliseconds and ``Z`` (the spec's example form; some platforms reject microseconds)."""
    if at.tzinfo is None:
        raise ValueError("score timestamps must be timezone-aware")
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def scaled_score(score: float, max_score: float, score_maximum: float) -> float:
    """``score`` out of ``max_score`` as points out of the line item's ``score_maximum``: the fraction is
    clamped to [0, 1] (a bonus never exceeds the maximum, the platform would refuse it) and rounded."""
    if score_maximum <= 0 or not math.isfinite(score_maximum):
        raise ValueError("scoreMaximum must be a positive number")
    fraction = score / max_score if max_score > 0 else 0.0
    if not math.isfinite(fraction):
        fraction = 0.0
    given = round(min(max(fraction, 0.0), 1.0) * score_maximum, SCORE_DECIMALS)
    return min(given, score_maximum)


def score_payload(
    *,
    user_id: str,
    timestamp: datetime,
    grading_progress: GradingProgress,
    score_given: float | None = None,
    score_maximum: float | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """A Score (``application/vnd.ims.lis.v1.score+json``).

    ``FullyGraded`` carries ``scoreGiven``/``scoreMaximum`` with ``activityProgress=Completed``; anything
    else is a submission awaiting its grade: ``activityProgress=Submitted`` and no score (a platform shows
    "needs grading" rather than a zero)."""
    payload: dict[str, Any] = {"userId": user_id, "timestamp": iso_timestamp(timestamp)}
    if grading_progress == FULLY_GRADED:
        if score_given is None or score_maximum is None:
            raise ValueError("a FullyGraded score needs scoreGiven and scoreMaximum")
        if score_maximum <= 0:
            raise ValueError("scoreMaximum must be positive")
        payload["scoreGiven"] = min(max(score_given, 0.0), score_maximum)
        payload["scoreMaximum"] = score_maximum
        payload["activityProgress"] = "Completed"
    else:
        payload["activityProgress"] = "Submitted"
    payload["gradingProgress"] = grading_progress
    if comment:
        payload["comment"] = comment[:1000]
    return payload


def lineitem_payload(*, label: str, score_maximum: float, resource_link_id: str, tag: str) -> dict[str, Any]:
    """A LineItem to POST to the context's line items container (created on demand for a link)."""
    if score_maximum <= 0:
        raise ValueError("scoreMaximum must be positive")
    return {
        "scoreMaximum": score_maximum,
        "label": (label or "Lyceum assessment")[:255],
        "resourceLinkId": resource_link_id,
        "tag": tag[:255],
    }


def scores_url(lineitem_url: str) -> str:
    """The line item's scores endpoint: ``/scores`` appended to its path, its query string kept (Moodle's
    line item URLs carry ``?type_id=...``; appending after the ``?`` would break them)."""
    parts = urlsplit(lineitem_url)
    path = parts.path.rstrip("/") + "/scores"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))
