"""Ownership checks that follow the role guards: users edit themselves, admins edit anyone in their org."""

from __future__ import annotations

from uuid import UUID

from app.domain.accounts.schemas import UserUpdate
from app.lib.errors import Forbidden
from app.lib.security.principal import Principal


def ensure_can_view_user(principal: Principal, user_id: UUID) -> None:
    if principal.user_id != user_id and not principal.has_any("admin", "instructor"):
        raise Forbidden("Learners can only view their own profile")


def ensure_can_edit_user(principal: Principal, user_id: UUID, change: UserUpdate) -> None:
    if principal.is_admin:
        if principal.user_id == user_id and change.is_active is False:
            raise Forbidden("Admins cannot deactivate themselves")
        return
    if principal.user_id != user_id:
        raise Forbidden("You can only edit your own profile")
    if change.is_active is not None:
        raise Forbidden("Only admins can activate or deactivate accounts")
