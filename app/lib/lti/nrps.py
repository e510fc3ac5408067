"""Names and Role Provisioning Services 2.0 (NRPS): membership containers and their paging, pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urljoin

MEMBERSHIP_MEDIA_TYPE: Final = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
SCOPE_MEMBERSHIP_READONLY: Final = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

ACTIVE: Final = "Active"
INACTIVE_STATUSES: Final = frozenset({"Inactive", "Deleted"})


class MembershipError(ValueError):
    """A page that is not a membership container (the sync stops; nothing is deactivated)."""


@dataclass(frozen=True)
class Member:
    user_id: str  # the LTI ``sub``
    roles: tuple[str, ...]
    status: str = ACTIVE
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""

    @property
    def active(self) -> bool:
        return self.status not in INACTIVE_STATUSES


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def parse_membership_container(body: Any) -> list[Member]:
    """The members of one page. Entries without a ``user_id`` are skipped (nothing to key them by); a body
    that is not a container raises ``MembershipError``."""
    if not isinstance(body, dict) or not isinstance(body.get("members"), list):
        raise MembershipError("not a membership container (no members list)")
    members: list[Member] = []
    for entry in body["members"]:
        if not isinstance(entry, dict):
            continue
        user_id = entry.get("user_id")
        if not isinstance(user_id, str) or not user_id or len(user_id) > 255:
            continue
        roles = entry.get("roles")
        status = entry.get("status")
        members.append(
            Member(
                user_id=user_id,
                roles=tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else (),
                status=status if isinstance(status, str) and status else ACTIVE,
                name=_text(entry.get("name"), 200),
                given_name=_text(entry.get("given_name"), 200),
                family_name=_text(entry.get("family_name"), 200),
                email=_text(entry.get("email"), 320),
            )
        )
    return members


# One link-value of RFC 8288: <uri> followed by ;-separated parameters.
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^\s;,=]+\s*(?:=\s*(?:\"[^\"]*\"|[^;,\s]*))?)*)")
_PARAM = re.compile(r";\s*([A-Za-z0-9!#$&+\-.^_`|~]+)\s*=\s*(\"[^\"]*\"|[^;,\s]+)")


def link_targets(header: str | None, rel: str, *, base: str = "") -> list[str]:
    """The URIs of ``header`` (a ``Link`` header, RFC 8288) whose ``rel`` includes ``rel``, resolved
    against ``base`` when relative."""
    if not header:
        return []
    found: list[str] = []
    for match in _LINK.finditer(header):
        uri, params = match.group(1).strip(), match.group(2) or ""
        for name, value in _PARAM.findall(params):
            if name.lower() == "rel" and rel in value.strip('"').lower().split():
                found.append(urljoin(base, uri) if base else uri)
                break
    return found


def next_page(header: str | None, *, base: str = "") -> str | None:
    """The ``rel="next"`` page of a membership response, if any."""
    targets = link_targets(header, "next", base=base)
    return targets[0] if targets else None
