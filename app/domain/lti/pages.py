"""The HTML the LTI endpoints answer (a browser in an LMS iframe reads them, never a script): the login's
postMessage-storage page, the launch's hand-off to the web app, and the error page.

Each page carries its data as JSON in ``<script type="application/json" id="lti-data">`` (escaped so no
value can close the script) and a nonce'd inline script; its own CSP allows nothing else.
"""

from __future__ import annotations

import html
import json
import secrets
from typing import Any

from litestar import Response
from litestar.enums import MediaType

# LTI client-side postMessage storage (1EdTech, "LTI Client Side postMessages"): put/get data in the
# platform's storage frame, keyed by state and nonce, because the tool's own cookies are blocked.
_STORAGE_JS = """
const d = JSON.parse(document.getElementById("lti-data").textContent);
const frame = d.storage_target === "_parent" ? window.parent : window.parent.frames[d.storage_target];
const fail = (why) => { document.getElementById("status").textContent = why; };
const pending = new Map();
window.addEventListener("message", (event) => {
  if (event.origin !== d.platform_origin || !event.data || !pending.has(event.data.message_id)) return;
  const [key, expected] = pending.get(event.data.message_id);
  pending.delete(event.data.message_id);
  if (event.data.error) return fail("Your LMS refused to keep this launch's data: " + JSON.stringify(event.data.error));
  if (d.mode === "get" && event.data.value !== expected) return fail("This launch was not started in this browser.");
  if (pending.size === 0) window.location.replace(d.next);
});
if (!frame || frame === window) {
  fail("This launch must be opened from your LMS.");
} else {
  for (const [key, value] of [["state_" + d.state, d.state], ["nonce_" + d.nonce, d.nonce]]) {
    const id = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
    pending.set(id, [key, value]);
    const message = d.mode === "put"
      ? {subject: "lti.put_data", message_id: id, key: key, value: value}
      : {subject: "lti.get_data", message_id: id, key: key};
    frame.postMessage(message, d.platform_origin);
  }
  setTimeout(() => { if (pending.size) fail("Your LMS did not answer; reload the page in the LMS."); }, 10000);
}
"""
_REDIRECT_JS = """
const d = JSON.parse(document.getElementById("lti-data").textContent);
window.location.replace(d.next);
"""


def _json_for_script(data: dict[str, Any]) -> str:
    return (
        json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )


def _page(
    title: str, body: str, *, status: int = 200, data: dict[str, Any] | None = None, js: str = ""
) -> Response[str]:
    nonce = secrets.token_urlsafe(16)
    script = ""
    if data is not None:
        script = f'<script type="application/json" id="lti-data">{_json_for_script(data)}</script>'
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
            "Cache-Control": "no-store",  # single-use codes and states: never cached, never replayed from a cache
            "Referrer-Policy": "no-referrer",  # the next URL carries a code: do not leak it onwards
        },
    )


def storage_page(
    *, mode: str, next_url: str, storage_target: str, state: str, nonce: str, origin: str
) -> Response[str]:
    """Login (``mode="put"``: store state and nonce in the platform, then go to its auth URL) or launch
    (``mode="get"``: check them, then open the web app)."""
    data = {
        "page": "lti-login" if mode == "put" else "lti-launch",
        "mode": mode,
        "next": next_url,
        "storage_target": storage_target,
        "state": state,
        "nonce": nonce,
        "platform_origin": origin,
        # What the test platform reads to play the browser (same values, stable names).
        "auth_url": next_url,
    }
    body = '<h1>Opening Lyceum…</h1><p id="status">Connecting to your LMS.</p>'
    return _page("Opening Lyceum", body, data=data, js=_STORAGE_JS)


def redirect_page(next_url: str) -> Response[str]:
    """The launch's hand-off: the browser goes to the web app with the one-time code (a page, not a 302,
    so the code never sits in a Location header a proxy might log with the POST that produced it)."""
    body = f'<h1>Opening Lyceum…</h1><p><a href="{html.escape(next_url)}">Continue</a> if nothing happens.</p>'
    return _page("Opening Lyceum", body, data={"page": "lti-launch", "next": next_url}, js=_REDIRECT_JS)


def error_page(status: int, code: str, detail: str) -> Response[str]:
    body = (
        "<h1>This LMS launch could not be completed</h1>"
        f"<p>{html.escape(detail)}.</p>"
        "<p>Go back to your course in the LMS and open the link again. If it keeps failing, "
        "give your LMS administrator this reason:</p>"
        f"<p><code>{html.escape(code)}</code></p>"
    )
    return _page("Lyceum launch failed", body, status=status, data={"page": "lti-error", "code": code})
