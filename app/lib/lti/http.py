"""Calls to LTI platforms (key sets, token endpoints, AGS, NRPS, dynamic registration), guarded against SSRF.

Every URL a platform hands us is attacker-controlled (an admin typo, a hostile registration, a launch's
endpoint claim): it may point at the metadata service, Redis or an internal admin page. Before each
request the host is resolved and every address must be public (not loopback, private, link-local,
multicast, reserved or unspecified) unless ``LYCEUM_LTI_ALLOW_PRIVATE`` is set; redirects are not
followed (a public host could redirect inward). Only http(s) URLs are accepted, https required unless
private addresses are allowed (development and the test platform).

The resolve-then-connect gap (DNS rebinding) is closed by connecting to the address we checked:
the request goes to the vetted IP with the original Host header and TLS server name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

MAX_RESPONSE_BYTES = 2 * 1024 * 1024  # a key set, a token, a roster page: never more than this


class UnsafeUrl(ValueError):
    """A platform URL this service refuses to call (scheme, host or address)."""


class PlatformHttpError(Exception):
    """A platform answered with an error status, an oversized body or not at all."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """429, 5xx and transport failures are worth retrying; other 4xx are not."""
        return self.status is None or self.status == 429 or self.status >= 500


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
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))  # CGNAT
    )


def check_url_shape(url: str, *, allow_private: bool) -> None:
    """Scheme and host checks that need no DNS (admin input is validated with this at once)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UnsafeUrl(f"not a URL: {url!r}") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl(f"{url!r} is not an http(s) URL with a host")
    if parts.scheme == "http" and not allow_private:
        raise UnsafeUrl(f"{url!r} must use https")
    if parts.username or parts.password:
        raise UnsafeUrl(f"{url!r} must not carry credentials")


async def resolve_public(url: str, *, allow_private: bool) -> str:
    """The address to connect to for ``url``: its host resolved, every address checked. Raises UnsafeUrl."""
    check_url_shape(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(f"{host!r} does not resolve") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeUrl(f"{host!r} does not resolve")
    if not allow_private:
        refused = [a for a in addresses if not _is_public(a)]
        if refused:
            raise UnsafeUrl(f"{host!r} resolves to a non-public address ({refused[0]})")
    return addresses[0]


class PlatformHttp:
    """An httpx client for platform calls: SSRF-guarded, no redirects, bounded time and size.

    Build one per process (the API's or the worker's components) and close it on shutdown."""

    def __init__(
        self, *, allow_private: bool, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.allow_private = allow_private
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": "Lyceum-LTI-Tool/1.0"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """One request to a vetted address. Raises UnsafeUrl (refused before sending) or PlatformHttpError
        (transport failure, 3xx, 4xx/5xx, body over MAX_RESPONSE_BYTES)."""
        address = await resolve_public(url, allow_private=self.allow_private)
        parts = urlsplit(url)
        host_header = parts.netloc.rsplit("@", 1)[-1]
        netloc = f"[{address}]" if ":" in address else address
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        merged = {"Host": host_header, **(headers or {})}
        try:
            async with self._client.stream(
                method, pinned, headers=merged, data=data, json=json, content=content, extensions=extensions
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise PlatformHttpError(f"{parts.hostname} sent more than {MAX_RESPONSE_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise PlatformHttpError(f"{method} {parts.hostname}{parts.path} failed: {exc!r}") from exc
        complete = httpx.Response(
            response.status_code, headers=response.headers, content=bytes(body), request=response.request
        )
        if complete.status_code >= 300:
            retry_after = _retry_after(complete.headers.get("Retry-After"))
            raise PlatformHttpError(
                f"{method} {parts.hostname}{parts.path} answered {complete.status_code}",
                status=complete.status_code,
                retry_after=retry_after,
            )
        return complete

    async def get_json(self, url: str, *, headers: Mapping[str, str] | None = None) -> Any:
        response = await self.request("GET", url, headers=headers)
        try:
            return response.json()
        except ValueError as exc:
            raise PlatformHttpError(f"{url} did not answer JSON") from exc


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
