"""The HTML error page of the SAML endpoints (the ACS's hand-off to the web app is the shared one of
app/domain/sso/pages.py, as OIDC's callback answers it).

Like the LTI pages (app/domain/lti/pages.py): data as escaped JSON in ``<script type="application/json"
id="sso-data">``, a nonce'd inline script, a CSP that allows nothing else, never cached.
"""

from __future__ import annotations

import html
import json
import secrets
from typing import Any

from litestar import Response
from litestar.enums import MediaType


def _json_for_script(data: dict[str, Any]) -> str:
    return (
        json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )


def _page(title: str, body: str, *, status: int, data: dict[str, Any], js: str = "") -> Response[str]:
    nonce = secrets.token_urlsafe(16)
    script = f'<script type="application/json" id="sso-data">{_json_for_script(data)}</script>'
    if js:
        script += f'<script nonce="{nonce}">{js}</script>'
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933}"
        "h1{font-size:1.25rem}code{color:#52606d}</style></head>"
        f"<body>{body}{script}</body></html>"
    )
    return Response(
        document,
        status_code=status,
        media_type=MediaType.HTML,
        headers={
            "Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",  # the next URL carries a one-time code
        },
    )


def error_page(status: int, code: str, detail: str, org_slug: str = "") -> Response[str]:
    again = ""
    if org_slug:
        login = f"/v1/auth/sso/{org_slug}/saml/login"
        again = f'<p><a href="{html.escape(login)}">Try signing in again</a> or use the sign-in page.</p>'
    body = (
        "<h1>Single sign-on could not be completed</h1>"
        f"<p>{html.escape(detail)}.</p>{again}"
        "<p>If it keeps failing, give your administrator this reason:</p>"
        f"<p><code>{html.escape(code)}</code></p>"
    )
    return _page("Sign-in failed", body, status=status, data={"page": "sso-error", "protocol": "saml", "code": code})
