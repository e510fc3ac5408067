"""The web app's session cookie: the refresh token in an HttpOnly cookie, with a CSRF token beside it.

- ``lyceum_refresh``: the refresh token. ``HttpOnly`` (no script, so no XSS, can read it), ``Secure``,
  ``SameSite=Strict`` (never sent on a request another site starts) and ``Path=/v1/auth/refresh`` (sent
  to that one endpoint only, nowhere else in the API).
- ``lyceum_csrf``: the CSRF token, readable by the web app's scripts (``Path=/``, not HttpOnly) and sent
  back as the ``X-CSRF-Token`` header on a cookie refresh. It is an HMAC of the login (token family)
  under the server's secret, so it cannot be forged or planted from a sibling subdomain, and it stays the
  same across rotations (several tabs agree on it).

A cookie refresh needs both: the cookie proves the browser holds the session, the header proves the
request came from a page of this origin that could read the CSRF cookie. Bearer-authenticated routes need
no CSRF protection: browsers never attach an ``Authorization`` header on their own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

from litestar import Response
from litestar.datastructures import Cookie

from app.config import Settings
from app.domain.auth.schemas import RefreshMode, TokenPair

if TYPE_CHECKING:
    from app.lib.security.tokens import TokenCodec

REFRESH_COOKIE = "lyceum_refresh"
CSRF_COOKIE = "lyceum_csrf"
CSRF_HEADER = "x-csrf-token"
REFRESH_PATH = "/v1/auth/refresh"


def csrf_token(settings: Settings, family_id: str) -> str:
    digest = hmac.new(settings.secret_key.value.encode(), f"csrf:{family_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_matches(settings: Settings, family_id: str, presented: str) -> bool:
    return hmac.compare_digest(csrf_token(settings, family_id), presented)


def _pair(settings: Settings, refresh: str, csrf: str, max_age: int) -> list[Cookie]:
    secure = settings.refresh_cookie_secure
    return [
        Cookie(
            key=REFRESH_COOKIE,
            value=refresh,
            path=REFRESH_PATH,
            max_age=max_age,
            secure=secure,
            httponly=True,
            samesite="strict",
        ),
        Cookie(
            key=CSRF_COOKIE, value=csrf, path="/", max_age=max_age, secure=secure, httponly=False, samesite="strict"
        ),
    ]


def session_cookies(settings: Settings, pair: TokenPair, family_id: str) -> tuple[TokenPair, list[Cookie]]:
    """Move a freshly issued pair's refresh token into the cookie: the body keeps the access token and
    gains the CSRF token."""
    csrf = csrf_token(settings, family_id)
    body = TokenPair(
        access_token=pair.access_token, expires_in=pair.expires_in, token_type=pair.token_type, csrf_token=csrf
    )
    return body, _pair(settings, pair.refresh_token or "", csrf, settings.refresh_token_ttl_seconds)


def cleared_cookies(settings: Settings) -> list[Cookie]:
    """Expire both cookies (same name, path and attributes, so browsers replace them)."""
    return _pair(settings, "", "", 0)


def deliver(settings: Settings, tokens: TokenCodec, pair: TokenPair, mode: RefreshMode) -> Response[TokenPair]:
    """The response for a freshly issued pair: as issued (body flow), or with its refresh token moved into
    the session cookie (cookie flow)."""
    if mode == "body":
        return Response(pair)
    family = str(tokens.decode(pair.refresh_token or "", "refresh")["fam"])
    body, cookies = session_cookies(settings, pair, family)
    return Response(body, cookies=cookies)
