"""Ownership checks that follow the role guards: users edit themselves, admins edit anyone in their org."""

from __future__ import annotations

from uuid import UUID

from app.domain.accounts.schemas import UserUpdate
from app.lib.errors import Forbidden
from app.lib.security.principal import Principal


def ensure_can_view_user(principal: Principal, user_id: UUID) -> None:
    if principal.user_id != user_id and not principal.is_staff:
        raise Forbidden("Learners can only view their own profile")


def ensure_can_reset_password(principal: Principal, user_id: UUID, other_orgs: int) -> None:
    """Admins reset the passwords of people who belong to their org only; their own goes through
    ``POST /v1/me/password``, which asks for the current one."""
    if not principal.is_admin:
        raise Forbidden("Only admins can reset passwords")
    if principal.user_id == user_id:
        raise Forbidden("Change your own password with POST /v1/me/password (it asks for the current one)")
    if other_orgs > 0:
        raise Forbidden("This person also belongs to another organization and manages their own password")


def ensure_can_edit_user(principal: Principal, user_id: UUID, change: UserUpdate, other_orgs: int = 0) -> None:
    """``other_orgs``: how many orgs besides the caller's the target belongs to. A user is one identity
    across orgs, so an admin of one org must not rewrite the profile of someone another org relies on."""
    if principal.user_id == user_id:
        if change.is_active is not None:
            raise Forbidden("You cannot activate or deactivate your own account")
        return
    if principal.is_admin:
        if other_orgs > 0:
            raise Forbidden("This person also belongs to another organization and manages their own profile")
        return
    if principal.user_id != user_id:
        raise Forbidden("You can only edit your own profile")
    if change.is_active is not None:
        raise Forbidden("Only admins can activate or deactivate accounts")


def ensure_can_set_roles(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only admins can change roles")
