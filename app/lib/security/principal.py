from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.lib.roles import is_staff_role


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, in which org, with which org-scoped roles. Attached to every authenticated request."""

    user_id: UUID
    org_id: UUID
    roles: frozenset[str]
    token_id: str = ""
    family_id: str = ""
    expires_at: int = 0
    token_version: int = 0  # the user's token version when this token was issued (claim ``ver``)

    def has_any(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_staff(self) -> bool:
        """An instructor or admin of this org (app/lib/roles.py)."""
        return is_staff_role(self.roles)
