"""Org-scoped roles and "staff", defined once. Every other place (guards, the membership table's check,
the content and API schemas, ownership checks, the live feed) imports them from here.

Staff are instructors and admins: they see the org's review queue, the live review feed, any learner's
submissions and tutoring sessions. The web app mirrors ``STAFF_ROLES`` in frontend/src/lib/roles.ts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

__all__ = ["ROLES", "STAFF_ROLES", "Role", "is_staff_role"]

Role = Literal["admin", "instructor", "learner"]
ROLES: Final[tuple[Role, ...]] = ("admin", "instructor", "learner")
STAFF_ROLES: Final[tuple[Role, ...]] = ("admin", "instructor")


def is_staff_role(roles: Iterable[str]) -> bool:
    """Whether any of ``roles`` is a staff role (instructor or admin)."""
    return any(role in STAFF_ROLES for role in roles)
