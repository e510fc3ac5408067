"""An OpenID Connect provider for the tests: a small ASGI app served by uvicorn on 127.0.0.1 in a thread.

One server hosts any number of issuers (``/i/<name>``), so each test gets a fresh issuer (its own keys,
clients, users and caches in Lyceum) without restarting anything. Per issuer: discovery, JWKS, an
authorize endpoint that redirects straight back with a code for the user the test chose (no login form),
a token endpoint that authenticates the client and **enforces PKCE (S256)**, and userinfo. ID tokens are
signed with RSA keys the test holds, and the test can make the next token wrong in any way
(``issuer.tamper``: claims to override or drop, a key to sign with) to see Lyceum refuse it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.server.embedded import free_port

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def new_key(kid: str | None = None) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid or secrets.token_hex(6), "use": "sig", "alg": "RS256"})


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class Tamper:
    """How the next ID token(s) go wrong: claims replaced, claims removed, signed by another key."""

    claims: dict[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    key: RSAKey | None = None


@dataclass
class Issuer:
    name: str
    base: str  # the server's URL
    client_id: str = field(default_factory=lambda: f"lyceum-{secrets.token_hex(4)}")
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    keys: list[RSAKey] = field(default_factory=lambda: [new_key()])  # published; the first signs
    user: dict[str, Any] = field(default_factory=dict)  # claims of whoever "signs in" at authorize next
    tamper: Tamper = field(default_factory=Tamper)
    id_token_has_email: bool = True  # False: email only at userinfo (a "thin" ID token)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, endpoint name)
    token_errors: list[str] = field(default_factory=list)  # why the token endpoint refused

    @property
    def url(self) -> str:
        return f"{self.base}/i/{self.name}"

    def sign_in_as(self, sub: str, email: str, *, email_verified: bool = True, **claims: Any) -> None:
        self.user = {"sub": sub, "email": email, "email_verified": email_verified, **claims}

    def rotate(self) -> RSAKey:
        """A new signing key, published first (the old one stays published, as providers do)."""
        key = new_key()
        self.keys.insert(0, key)
        return key

    def count(self, endpoint: str) -> int:
        return sum(1 for _, name in self.requests if name == endpoint)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time())
        user = dict(grant["user"])
        if not self.id_token_has_email:
            user.pop("email", None)
            user.pop("email_verified", None)
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
            **user,
        }
        if grant.get("nonce") is not None:
            claims["nonce"] = grant["nonce"]
        claims.update(self.tamper.claims)
        for name in self.tamper.drop:
            claims.pop(name, None)
        key = self.tamper.key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


class OidcProvider:
    def __init__(self) -> None:
        self.issuers: dict[str, Issuer] = {}
        self._lock = threading.Lock()
        self.base = ""

    def new_issuer(self, **fields: Any) -> Issuer:
        issuer = Issuer(name=secrets.token_hex(5), base=self.base, **fields)
        with self._lock:
            self.issuers[issuer.name] = issuer
        return issuer

    # --- the ASGI app -----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, headers, payload = self.handle(scope, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def handle(self, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        parts = scope["path"].strip("/").split("/", 2)
        if len(parts) < 3 or parts[0] != "i" or parts[1] not in self.issuers:
            return _json(404, {"error": "not_found"})
        issuer = self.issuers[parts[1]]
        endpoint = parts[2]
        method = scope["method"]
        issuer.requests.append((method, endpoint))
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if endpoint == ".well-known/openid-configuration":
            return _json(200, issuer.discovery())
        if endpoint == "jwks":
            return _json(200, {"keys": [k.as_dict(private=False) for k in issuer.keys]})
        if endpoint == "authorize":
            return self.authorize(issuer, query)
        if endpoint == "token" and method == "POST":
            return self.token(issuer, {k: v[0] for k, v in parse_qs(body.decode()).items()}, headers)
        if endpoint == "userinfo":
            grant = issuer.access_tokens.get(headers.get("authorization", "").removeprefix("Bearer "))
            if grant is None:
                return _json(401, {"error": "invalid_token"})
            return _json(200, grant["user"])
        return _json(404, {"error": "not_found"})

    def authorize(self, issuer: Issuer, query: dict[str, str]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if query.get("client_id") != issuer.client_id or query.get("response_type") != "code":
            return _json(400, {"error": "invalid_request"})
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _json(400, {"error": "invalid_request", "error_description": "PKCE S256 is required"})
        code = secrets.token_urlsafe(24)
        issuer.codes[code] = {
            "redirect_uri": query.get("redirect_uri"),
            "challenge": query["code_challenge"],
            "nonce": query.get("nonce"),
            "scope": query.get("scope", ""),
            "user": dict(issuer.user),
        }
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, [(b"location", target.encode()), (b"content-length", b"0")], b""

    def token(
        self, issuer: Issuer, form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != issuer.client_id or secret != issuer.client_secret:
            issuer.token_errors.append("invalid_client")
            return _json(401, {"error": "invalid_client"})
        grant = issuer.codes.pop(form.get("code", ""), None)  # a code is redeemed once
        if grant is None or form.get("grant_type") != "authorization_code":
            issuer.token_errors.append("invalid_grant")
            return _json(400, {"error": "invalid_grant"})
        if form.get("redirect_uri") != grant["redirect_uri"]:
            issuer.token_errors.append("redirect_uri")
            return _json(400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
        if s256(form.get("code_verifier", "")) != grant["challenge"]:
            issuer.token_errors.append("pkce")
            return _json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
        access = secrets.token_urlsafe(24)
        issuer.access_tokens[access] = grant
        return _json(
            200,
            {"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": issuer.id_token(grant)},
        )


def _json(status: int, data: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    payload = json.dumps(data).encode()
    return status, [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())], payload


@contextmanager
def running_oidc_provider() -> Iterator[OidcProvider]:
    provider = OidcProvider()
    port = free_port()
    provider.base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(provider, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the test OIDC provider did not start"
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
