"""AGS wire shapes: scores never above the maximum, progress values, timestamps, scores URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.lib.lti import ags


def test_timestamp_has_milliseconds_and_z() -> None:
    at = datetime(2026, 11, 30, 17, 5, 9, 123456, tzinfo=UTC)
    assert ags.iso_timestamp(at) == "2026-11-30T17:05:09.123Z"
    other_zone = at.astimezone(timezone(timedelta(hours=2)))
    assert ags.iso_timestamp(other_zone) == "2026-11-30T17:05:09.123Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        ags.iso_timestamp(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("score", "max_score", "maximum", "expected"),
    [
        (7, 10, 100, 70.0),
        (10, 10, 1, 1.0),
        (12, 10, 50, 50.0),  # a bonus is clamped: never above scoreMaximum
        (-3, 10, 10, 0.0),
        (1, 3, 10, 3.3333),
        (5, 0, 10, 0.0),  # no maximum on our side: nothing to scale
        (2, 3, 1, 0.6667),
    ],
)
def test_scaled_score_is_clamped_and_rounded(score: float, max_score: float, maximum: float, expected: float) -> None:
    given = ags.scaled_score(score, max_score, maximum)
    assert given == expected
    assert 0 <= given <= maximum


def test_scaled_score_needs_a_positive_maximum() -> None:
    with pytest.raises(ValueError, match="positive"):
        ags.scaled_score(1, 1, 0)


def test_fully_graded_payload() -> None:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    payload = ags.score_payload(
        user_id="sub-1", timestamp=at, grading_progress="FullyGraded", score_given=12.5, score_maximum=10
    )
    assert payload == {
        "userId": "sub-1",
        "timestamp": "2026-11-30T12:00:00.000Z",
        "scoreGiven": 10,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
    }
    with pytest.raises(ValueError, match="needs scoreGiven"):
        ags.score_payload(user_id="s", timestamp=at, grading_progress="FullyGraded")


def test_pending_manual_payload_has_no_score() -> None:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    payload = ags.score_payload(user_id="sub-1", timestamp=at, grading_progress="PendingManual", score_maximum=10)
    assert payload["activityProgress"] == "Submitted"
    assert payload["gradingProgress"] == "PendingManual"
    assert "scoreGiven" not in payload
    assert "scoreMaximum" not in payload


def test_grading_rank_orders_pending_before_fully_graded() -> None:
    assert ags.GRADING_RANK["PendingManual"] < ags.GRADING_RANK["FullyGraded"]


@pytest.mark.parametrize(
    ("lineitem", "scores"),
    [
        ("https://lms.test/api/lti/courses/1/line_items/7", "https://lms.test/api/lti/courses/1/line_items/7/scores"),
        ("https://lms.test/li/7/", "https://lms.test/li/7/scores"),
        (
            "https://moodle.test/mod/lti/services.php/2/lineitems/5/lineitem?type_id=3",
            "https://moodle.test/mod/lti/services.php/2/lineitems/5/lineitem/scores?type_id=3",
        ),
        ("http://127.0.0.1:8000/lineitems/a?x=1&y=2", "http://127.0.0.1:8000/lineitems/a/scores?x=1&y=2"),
    ],
)
def test_scores_url_keeps_the_query_string(lineitem: str, scores: str) -> None:
    assert ags.scores_url(lineitem) == scores


def test_lineitem_payload() -> None:
    body = ags.lineitem_payload(label="Schema review", score_maximum=10, resource_link_id="rl-1", tag="lyceum:abc")
    assert body == {"scoreMaximum": 10, "label": "Schema review", "resourceLinkId": "rl-1", "tag": "lyceum:abc"}
    with pytest.raises(ValueError, match="positive"):
        ags.lineitem_payload(label="x", score_maximum=0, resource_link_id="r", tag="t")
