"""Sending one webhook: Standard Webhooks signing (the ``standardwebhooks`` package, ADR 0016) and an
SSRF-guarded POST (docs/webhooks.md).

- Secrets are ``whsec_`` + base64 of 24 random bytes; the signature is ``v1,<base64 HMAC-SHA256 of
  "<webhook-id>.<webhook-timestamp>.<body>">`` keyed by the decoded secret.
- The receiver's host is resolved and every address checked (no loopback, private, link-local, multicast,
  reserved or unspecified address, IPv4-mapped IPv6 included) unless private addresses are allowed; the
  request then goes to the checked address (Host header and TLS server name kept), so a DNS answer that
  changes between check and connect (rebinding) cannot move it. Redirects are never followed (a 3xx is a
  failed attempt), the whole exchange has one short timeout and at most ``MAX_RESPONSE_BYTES`` of the answer
  are read (the log keeps a snippet).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks.webhooks import Webhook

from app.lib.lti.http import UnsafeUrl, check_url_shape, resolve_public

__all__ = ["MAX_RESPONSE_BYTES", "SendResult", "UnsafeUrl", "check_url_shape", "new_secret", "send", "sign_headers"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 24
MAX_RESPONSE_BYTES = 16 * 1024  # a receiver's answer is only logged: never read more than this
USER_AGENT = "Lyceum-Webhooks/1.0"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign_headers(secret: str, message_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` sent at ``timestamp`` (seconds, UTC)."""
    at = timestamp.astimezone(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


@dataclass(frozen=True, slots=True)
class SendResult:
    """The receiver's answer (``status`` None: none came) and what to log about it."""

    status: int | None
    error: str  # "" on a 2xx

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def send(
    url: str,
    body: str,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float,  # noqa: ASYNC109 - handed to httpx, which applies it per phase
    transport: httpx.AsyncBaseTransport | None = None,
) -> SendResult:
    """POST ``body`` to ``url`` once. Never raises for the receiver's or the network's faults: a refused
    address, a transport failure, a non-2xx answer (3xx included: redirects are not followed) come back as a
    SendResult with the reason."""
    try:
        address = await resolve_public(url, allow_private=allow_private)
    except UnsafeUrl as exc:
        return SendResult(None, f"refused: {exc}")
    parts = urlsplit(url)
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    merged = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport) as client,
            client.stream("POST", pinned, headers=merged, content=body.encode(), extensions=extensions) as response,
        ):
            snippet = bytearray()
            async for chunk in response.aiter_bytes():
                snippet += chunk
                if len(snippet) >= MAX_RESPONSE_BYTES:
                    break  # enough to log; the rest is not read
            status = response.status_code
    except httpx.HTTPError as exc:
        return SendResult(None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= status < 300:
        return SendResult(status, "")
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        return SendResult(status, f"redirect to {location[:200]!r} not followed")
    return SendResult(status, f"answered {status}: {bytes(snippet[:300]).decode(errors='replace')}")
