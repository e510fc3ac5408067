"""A fake LMS for the load tests: an LTI 1.3 platform's key, its JWKS on loopback HTTP, its side of the OIDC
authorization step (reading and checking the tool's redirect) and signed ``LtiResourceLinkRequest`` launches.

The ``LtiLauncher`` journey (``journeys/lti.py``) plays the LMS in the learner's browser with it; the tool
fetches the key set from the JWKS server like it would from Canvas or Moodle (which needs
``LYCEUM_LTI_ALLOW_PRIVATE=true`` on the server under test: the key set URL is a loopback ``http://`` URL).

Every locust process shares one key, kept in a JWK file (``LYCEUM_LOAD_LMS_KEY``, created atomically by the
first process that needs it), and one JWKS port (``LYCEUM_LOAD_LMS_PORT``): the first process to bind the port
serves the key set for all of them, so the single platform registration in the org (found by its issuer and
client_id) stays valid for every process and every rerun. Run this file on its own to serve the key set
independently of any locust process (a distributed run whose first process may end early):

    uv run python loadtests/fake_lms.py --port 18401

No imports from ``app`` or ``tests``: the load tests drive a running Lyceum from the outside.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

# LTI Core 1.3 claim names (the few a resource-link launch carries).
_LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = _LTI + "message_type"
VERSION = _LTI + "version"
DEPLOYMENT_ID = _LTI + "deployment_id"
TARGET_LINK_URI = _LTI + "target_link_uri"
RESOURCE_LINK = _LTI + "resource_link"
ROLES = _LTI + "roles"
CONTEXT = _LTI + "context"
CUSTOM = _LTI + "custom"
TOOL_PLATFORM = _LTI + "tool_platform"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
LTI_VERSION = "1.3.0"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
CUSTOM_COURSE_ID = "lyceum_course_id"  # the custom parameter Lyceum's deep linking writes to name a course

DEFAULT_PORT = 18401
DEFAULT_ISSUER = "https://lms.load.test"  # an identifier only: never fetched (the .test TLD never resolves)
DEFAULT_CLIENT_ID = "lyceum-load"
DEFAULT_DEPLOYMENT_ID = "load-deployment"
TOKEN_SECONDS = 300  # an id_token's life, as platforms issue them (5 minutes)


class AuthRequestError(ValueError):
    """The tool's redirect to the platform is not the OIDC authorization request LTI 1.3 requires."""


def default_key_path() -> Path:
    return Path(os.environ.get("LYCEUM_LOAD_LMS_KEY") or Path(tempfile.gettempdir()) / "lyceum-load-lms-key.json")


def load_key(path: Path) -> RSAKey:
    """The platform's RS256 signing key from ``path`` (a private JWK), created there if absent.

    Written to a private temporary file and hard-linked into place, so a process racing this one either
    loses the link (and reads the winner's key) or reads a complete file, never half of one."""
    if not path.exists():
        key = RSAKey.generate_key(2048, parameters={"kid": f"load-lms-{secrets.token_hex(4)}", "alg": "RS256"})
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".lyceum-load-lms-")
        try:
            with os.fdopen(descriptor, "w") as handle:  # mkstemp: mode 0600
                json.dump(key.as_dict(private=True), handle)
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return RSAKey.import_key(json.loads(path.read_text()))


@dataclass(frozen=True)
class FakeLms:
    """One platform: its key, its identity in the tool's registration, and where it serves its key set."""

    key: RSAKey
    base_url: str  # the loopback JWKS server: http://127.0.0.1:<port>
    issuer: str = DEFAULT_ISSUER
    client_id: str = DEFAULT_CLIENT_ID
    deployment_id: str = DEFAULT_DEPLOYMENT_ID
    name: str = "Load test LMS"

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    @property
    def key_set_url(self) -> str:
        return f"{self.base_url}/jwks"

    @property
    def auth_login_url(self) -> str:
        return f"{self.base_url}/auth"

    @property
    def auth_token_url(self) -> str:
        return f"{self.base_url}/token"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def registration(self) -> dict[str, Any]:
        """The body of ``POST /v1/admin/lti/platforms`` that registers this platform."""
        return {
            "name": self.name,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_login_url": self.auth_login_url,
            "auth_token_url": self.auth_token_url,
            "key_set_url": self.key_set_url,
            "deployment_ids": [self.deployment_id],
        }

    def login_params(self, *, login_hint: str, target_link_uri: str) -> dict[str, str]:
        """Third-party initiated login, as the LMS sends the browser to the tool's login URL."""
        return {
            "iss": self.issuer,
            "login_hint": login_hint,
            "target_link_uri": target_link_uri,
            "lti_message_hint": f"resource-link:{login_hint}",
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }

    def auth_request(self, location: str, *, login_hint: str) -> dict[str, str]:
        """The platform's authorization endpoint reading the tool's redirect (LTI 1.3 Security Framework
        §5.1.1.2): the request's parameters once the endpoint and every required value check out."""
        parts = urlsplit(location)
        if f"{parts.scheme}://{parts.netloc}{parts.path}" != self.auth_login_url:
            raise AuthRequestError(f"redirected to {location[:200]!r}, not the platform's auth endpoint")
        auth = {name: values[0] for name, values in parse_qs(parts.query).items()}
        required = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": self.client_id,
            "login_hint": login_hint,
        }
        for name, value in required.items():
            if auth.get(name) != value:
                raise AuthRequestError(f"auth request {name}={auth.get(name)!r}, expected {value!r}")
        for name in ("redirect_uri", "state", "nonce"):
            if not auth.get(name):
                raise AuthRequestError(f"auth request without {name}")
        return auth

    def claims(
        self,
        *,
        sub: str,
        nonce: str,
        target_link_uri: str,
        context_id: str = "load-course",
        resource_link_id: str = "load-link",
        course_id: str | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """An ``LtiResourceLinkRequest`` for a learner: the claims a platform signs into the id_token. A
        ``course_id`` goes in the custom parameters, where a deep-linked Lyceum course would have put it."""
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": sub,
            "iat": issued,
            "exp": issued + TOKEN_SECONDS,
            "nonce": nonce,
            "name": f"Load Learner {sub[-12:]}",
            "email": f"{sub}@lms.load.test",
            MESSAGE_TYPE: RESOURCE_LINK_REQUEST,
            VERSION: LTI_VERSION,
            DEPLOYMENT_ID: self.deployment_id,
            TARGET_LINK_URI: target_link_uri,
            ROLES: [LEARNER],
            CONTEXT: {"id": context_id, "title": "Load test course", "label": "LOAD101"},
            RESOURCE_LINK: {"id": resource_link_id, "title": "Load test lesson"},
            TOOL_PLATFORM: {"guid": "lyceum-load-lms", "name": self.name, "product_family_code": "load"},
        }
        if course_id is not None:
            claims[CUSTOM] = {CUSTOM_COURSE_ID: course_id}
        return claims

    def id_token(self, **claim_args: Any) -> str:
        """The claims signed with the platform's key (RS256, ``kid`` of a key in its JWKS)."""
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        return jwt.encode(header, self.claims(**claim_args), self.key, algorithms=["RS256"])


def _handler(lms: FakeLms) -> type[BaseHTTPRequestHandler]:
    body = json.dumps(lms.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            found = urlsplit(self.path).path == "/jwks"
            payload = body if found else b'{"error": "not found"}'
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def serve_jwks(lms: FakeLms, port: int) -> ThreadingHTTPServer | None:
    """Serve ``lms``'s key set on 127.0.0.1:``port`` in a daemon thread; None when the port is taken
    (another locust process, or this file run on its own, serves it: the caller checks it is the same key)."""
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(lms))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return None
        raise
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fake-lms-jwks", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("LYCEUM_LOAD_LMS_PORT", DEFAULT_PORT)))
    parser.add_argument("--key-file", type=Path, default=default_key_path())
    args = parser.parse_args()
    lms = FakeLms(load_key(args.key_file), f"http://127.0.0.1:{args.port}")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler(lms))
    print(f"fake LMS: key {lms.kid} at {lms.key_set_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
