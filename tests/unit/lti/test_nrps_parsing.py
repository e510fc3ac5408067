"""NRPS membership containers and Link-header paging."""

from __future__ import annotations

import pytest

from app.lib.lti import nrps


def test_members_are_parsed_and_junk_skipped() -> None:
    body = {
        "id": "https://lms.test/memberships",
        "context": {"id": "ctx"},
        "members": [
            {"user_id": "u1", "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"], "name": "Ann"},
            {"user_id": "u2", "roles": ["Instructor"], "status": "Inactive", "given_name": "Bo", "family_name": "Li"},
            {"user_id": "u3", "status": "Deleted"},
            {"roles": ["Learner"]},  # no user_id: skipped
            "not an object",
            {"user_id": "", "roles": []},
        ],
    }
    members = nrps.parse_membership_container(body)
    assert [m.user_id for m in members] == ["u1", "u2", "u3"]
    assert members[0].active
    assert members[0].name == "Ann"
    assert members[0].roles == ("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",)
    assert not members[1].active
    assert members[1].family_name == "Li"
    assert not members[2].active
    assert members[2].roles == ()


@pytest.mark.parametrize("body", [None, [], {"members": "x"}, {"id": "no members"}])
def test_not_a_container_is_refused(body: object) -> None:
    with pytest.raises(nrps.MembershipError):
        nrps.parse_membership_container(body)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://lms.test/m?page=2>; rel="next"', "https://lms.test/m?page=2"),
        ("<https://lms.test/m?page=2>; rel=next", "https://lms.test/m?page=2"),
        (
            '<https://lms.test/m?since=1>; rel="differences", <https://lms.test/m?p=3&per_page=10>; rel="next"',
            "https://lms.test/m?p=3&per_page=10",
        ),
        ('<https://lms.test/m?p=1>; rel="first", <https://lms.test/m?p=9>; rel="last"', None),
        ('<https://lms.test/x>; title="a, b"; rel="prev next"', "https://lms.test/x"),
        ("", None),
        (None, None),
    ],
)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert nrps.next_page(header) == expected


def test_relative_next_link_is_resolved() -> None:
    assert nrps.next_page('</m?page=2>; rel="next"', base="https://lms.test/api/m") == "https://lms.test/m?page=2"
