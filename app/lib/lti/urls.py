"""The tool's public endpoints, derived from the deployment's base URL (``settings.base_url``).

One place names them, so the admin page, dynamic registration, the deep-linking settings and the
``lyceum up`` banner never disagree with the routes."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

LOGIN_PATH = "/lti/login"
LAUNCH_PATH = "/lti/launch"
JWKS_PATH = "/lti/jwks.json"
REGISTER_PATH = "/lti/register"


@dataclass(frozen=True)
class ToolUrls:
    base_url: str

    @property
    def login(self) -> str:
        return self.base_url + LOGIN_PATH

    @property
    def launch(self) -> str:
        return self.base_url + LAUNCH_PATH

    @property
    def jwks(self) -> str:
        return self.base_url + JWKS_PATH

    @property
    def register(self) -> str:
        return self.base_url + REGISTER_PATH

    @property
    def domain(self) -> str:
        """The host (and port) the LMS checks launches against."""
        return urlsplit(self.base_url).netloc


def tool_urls(base_url: str) -> ToolUrls:
    return ToolUrls(base_url.rstrip("/"))


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, lower-cased, or None when it has none (a CSP source must be
    exactly an origin: no path, no spaces, no quotes, nothing that could end the directive)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return None
    if not host.isascii():  # an internationalised name goes into the header in its ASCII (punycode) form
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not all(c.isascii() and (c.isalnum() or c in ".-:") for c in host):
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")
