"""Calls to an org's OIDC provider (discovery, key set, token endpoint), guarded and cached.

The issuer URL is typed by an org admin, so every request it leads to is attacker-influenced: each goes
through ``GuardedTransport``, which allows https only (http with ``LYCEUM_SSO_ALLOW_HTTP_ISSUERS``),
resolves the host, refuses loopback, private, link-local and other non-public addresses (unless
``LYCEUM_SSO_ALLOW_PRIVATE_ISSUERS``) and connects to the address it checked (no DNS rebinding between the
check and the connection). Redirects are never followed.

``OidcMetadata`` caches the discovery document and the key set in Redis (``sso:oidc:disc|jwks:<hash>``,
``LYCEUM_SSO_METADATA_CACHE_SECONDS``), shared by every API process. An unknown ``kid`` refetches the key set
at once (the provider rotated its keys), at most once per ``REFRESH_INTERVAL_SECONDS`` per key set.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx2
import structlog
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.config import Settings

REFRESH_INTERVAL_SECONDS = 10
MAX_DOCUMENT_BYTES = 512 * 1024  # a discovery document or key set is a few kB
log = structlog.get_logger("lyceum.sso")


class ProviderUnavailable(Exception):
    """The provider (or the URL that names it) cannot be used: ``code`` is stable, ``detail`` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


def check_issuer_url(url: str, settings: Settings) -> None:
    """Shape checks that need no DNS (an admin's input is checked with this at once). Raises ProviderUnavailable."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ProviderUnavailable("bad_url", f"{url!r} is not a URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ProviderUnavailable("bad_url", f"{url!r} is not an https URL with a host")
    if parts.scheme == "http" and not settings.sso_allow_http_issuers:
        raise ProviderUnavailable("bad_url", f"{url!r} must use https")
    if parts.username or parts.password or parts.fragment or parts.query:
        raise ProviderUnavailable("bad_url", f"{url!r} must not carry credentials, a query or a fragment")


class GuardedTransport(httpx2.AsyncBaseTransport):
    """httpx transport that vets every URL (scheme, resolved addresses) and pins the connection to the
    address it vetted (original Host header and TLS server name kept)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = str(request.url)
        check_issuer_url(url.split("?", 1)[0], self.settings)
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as exc:
            raise ProviderUnavailable("unresolvable", f"{host!r} does not resolve") from exc
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            raise ProviderUnavailable("unresolvable", f"{host!r} does not resolve")
        if not self.settings.sso_allow_private_issuers:
            refused = [a for a in addresses if not _is_public(a)]
            if refused:
                raise ProviderUnavailable("private_address", f"{host!r} resolves to a non-public address")
        request.url = request.url.copy_with(host=addresses[0])
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def provider_client(settings: Settings, **kwargs: Any) -> dict[str, Any]:
    """The httpx options every client talking to a provider uses (authlib's AsyncOAuth2Client takes them too)."""
    return {
        "transport": GuardedTransport(settings),
        "timeout": settings.sso_http_timeout_seconds,
        "follow_redirects": False,
        "headers": {"User-Agent": "Lyceum-SSO/1.0"},
        **kwargs,
    }


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def parse_discovery(issuer: str, document: object, settings: Settings) -> dict[str, Any]:
    """The discovery document, checked: it names this issuer exactly (OIDC Discovery §4.3) and the endpoints
    Lyceum calls, each an acceptable URL."""
    if not isinstance(document, dict):
        raise ProviderUnavailable("bad_discovery", "the discovery document is not a JSON object")
    if document.get("issuer") != issuer:
        raise ProviderUnavailable(
            "issuer_mismatch",
            f"the discovery document names issuer {str(document.get('issuer'))[:200]!r}, not {issuer!r}",
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise ProviderUnavailable("bad_discovery", f"the discovery document has no {name}")
        try:
            check_issuer_url(value.split("?", 1)[0], settings)
        except ProviderUnavailable as exc:
            raise ProviderUnavailable("bad_discovery", f"{name}: {exc.detail}") from exc
    return document


def parse_key_set(document: object) -> KeySet:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ProviderUnavailable("bad_jwks", "the key set is not a JWK set")
    # Keys Lyceum cannot verify with (symmetric, malformed, encryption-only) are skipped, not fatal.
    usable = [
        k
        for k in document["keys"]
        if isinstance(k, dict) and k.get("kty") in ("RSA", "EC", "OKP") and k.get("use", "sig") == "sig"
    ]
    try:
        return KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError, TypeError) as exc:
        raise ProviderUnavailable("bad_jwks", "the key set cannot be read") from exc


class OidcMetadata:
    """Discovery and key sets of providers, fetched through the guarded transport and cached in Redis."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings

    def _key(self, kind: str, url: str) -> str:
        return f"{self.settings.redis_key_prefix}sso:oidc:{kind}:{_digest(url)}"

    async def _get_json(self, url: str) -> Any:
        try:
            async with httpx2.AsyncClient(**provider_client(self.settings)) as http:
                response = await http.get(url, headers={"Accept": "application/json"})
        except (httpx2.HTTPError, httpx2.InvalidURL, ValueError, UnicodeError) as exc:
            # InvalidURL is no HTTPError; odd hosts fail in IDNA encoding (UnicodeError): all are the admin's URL.
            raise ProviderUnavailable("unreachable", f"{url} could not be reached ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise ProviderUnavailable("unreachable", f"{url} answered {response.status_code}")
        if len(response.content) > MAX_DOCUMENT_BYTES:
            raise ProviderUnavailable("too_large", f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderUnavailable("not_json", f"{url} did not answer JSON") from exc

    async def _cached(self, kind: str, url: str) -> Any:
        try:
            raw = await self.redis.get(self._key(kind, url))
            return json.loads(raw) if raw is not None else None
        except (RedisError, ValueError):
            return None

    async def _keep(self, kind: str, url: str, document: Any) -> None:
        try:
            await self.redis.set(
                self._key(kind, url), json.dumps(document), ex=max(1, self.settings.sso_metadata_cache_seconds)
            )
        except RedisError:
            log.warning("sso_metadata_cache_unavailable", kind=kind)

    async def discovery(self, issuer: str, *, fresh: bool = False) -> dict[str, Any]:
        """``<issuer>/.well-known/openid-configuration``, checked; cached unless ``fresh`` (an admin saving)."""
        check_issuer_url(issuer, self.settings)
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        if not fresh:
            cached = await self._cached("disc", url)
            if cached is not None:
                try:
                    return parse_discovery(issuer, cached, self.settings)
                except ProviderUnavailable:
                    pass  # a stale or damaged entry: fetch again
        document = parse_discovery(issuer, await self._get_json(url), self.settings)
        await self._keep("disc", url, document)
        return document

    async def key_set(self, jwks_uri: str, *, refresh: bool = False) -> KeySet:
        """The provider's keys: cached, or fetched; ``refresh`` refetches unless one happened just now."""
        if refresh:
            try:
                allowed = await self.redis.set(
                    self._key("jwks-refresh", jwks_uri), "1", nx=True, ex=REFRESH_INTERVAL_SECONDS
                )
            except RedisError:
                allowed = True
            if not allowed:
                refresh = False
        if not refresh:
            cached = await self._cached("jwks", jwks_uri)
            if cached is not None:
                try:
                    return parse_key_set(cached)
                except ProviderUnavailable:
                    pass
        document = await self._get_json(jwks_uri)
        keys = parse_key_set(document)
        await self._keep("jwks", jwks_uri, document)
        return keys
