from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from app.domain.auth.schemas import Email

Role = Literal["admin", "instructor", "learner"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=1024)]


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


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    name: Name
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=3)]
    password: Password | None = None


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Owners may change their name and password; admins may also (de)activate members."""

    name: Name | None = None
    password: Password | None = None
    is_active: bool | None = None
