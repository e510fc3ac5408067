from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
OrgSlug = Annotated[str, msgspec.Meta(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=1024)]
# Where the refresh token goes: "body" (API clients, the LTI iframe: they keep it themselves) or "cookie"
# (the web app: an HttpOnly cookie scripts cannot read, refreshed with a CSRF token). docs/security.md.
RefreshMode = Literal["body", "cookie"]


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    org: OrgSlug
    refresh_mode: RefreshMode = "body"


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body flow: the refresh token. Cookie flow: an empty object (or no body), the refresh token in the
    ``lyceum_refresh`` cookie and the CSRF token in the ``X-CSRF-Token`` header."""

    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    new_password: Password
    refresh_mode: RefreshMode = "body"  # how this session's new refresh token is delivered


class PasswordReset(msgspec.Struct, forbid_unknown_fields=True):
    new_password: Password


class TokenPair(msgspec.Struct, omit_defaults=True):
    """``refresh_token`` is in the body in the body flow; in the cookie flow it is in the HttpOnly cookie
    instead, and ``csrf_token`` is what to send as ``X-CSRF-Token`` when refreshing."""

    access_token: str
    expires_in: int
    token_type: Literal["bearer"]
    refresh_token: str | None = None
    csrf_token: str | None = None
