"""LTI role URIs (LIS vocabulary, as LTI 1.3 sends them) to Lyceum's roles (app/lib/roles.py)."""

from __future__ import annotations

from collections.abc import Iterable

from app.lib.roles import Role

_ADMIN = ("membership#Administrator", "institution/person#Administrator", "system/person#Administrator")
_INSTRUCTOR = (
    "membership#Instructor",
    "membership#ContentDeveloper",
    "membership#Mentor",
    "membership/Instructor#TeachingAssistant",
    "institution/person#Faculty",
    "institution/person#Instructor",
)


def _matches(role: str, suffixes: tuple[str, ...]) -> bool:
    # Full URIs (http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor) and the short forms some
    # platforms still send for context roles ("Instructor") both count.
    return any(role.endswith(suffix) for suffix in suffixes) or role in {s.rsplit("#", 1)[-1] for s in suffixes}


def lyceum_role(lti_roles: Iterable[str]) -> Role:
    """The highest Lyceum role the LTI roles grant: admin > instructor > learner (anything else, or nothing)."""
    roles = list(lti_roles)
    if any(_matches(r, _ADMIN) for r in roles):
        return "admin"
    if any(_matches(r, _INSTRUCTOR) for r in roles):
        return "instructor"
    return "learner"
