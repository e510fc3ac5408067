from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from app.domain.auth.schemas import Email, Password
from app.lib.roles import Role as Role  # re-exported: the API schemas name it here

# Length before normalisation; the service normalises (NFKC, spaces) and refuses control, bidi and
# invisible characters and HTML brackets (app/lib/text.py).
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Me(msgspec.Struct):
    user_id: UUID
    org_id: UUID
    org: str
    email: str
    name: str
    roles: list[str]


class UserOut(msgspec.Struct):
    id: UUID
    email: str
    name: str
    is_active: bool
    roles: list[str]
    # When the person last signed in or refreshed a session in this org (their newest refresh token);
    # None when never.
    last_seen_at: datetime | None = None


class RolesUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A member's complete set of roles in the org (replaces the current set)."""

    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=3)]


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    name: Name
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=3)]
    password: Password | None = None
    # An address mixing scripts in one part (``admin`` with a Cyrillic a) or written in look-alike letters is
    # refused unless the admin confirms it here; the audit entry then carries the flag.
    accept_mixed_script_email: bool = False


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Owners may change their name; admins may also (de)activate members. Passwords change through
    ``POST /v1/me/password`` (needs the current one) or an admin's ``POST /v1/users/{id}/password``."""

    name: Name | None = None
    is_active: bool | None = None
