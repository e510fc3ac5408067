"""The test LMS: an LTI 1.3 platform with its own RSA keys, a JWKS route on the loopback server, the OIDC
authorization step and signed launches, driving the tool (the Litestar test client) like a browser would.

Every Security Framework check has a knob: sign with another key (``key=``), name another kid (``kid=``),
expire the token (``exp=``), send another audience/issuer/deployment/message type (keyword overrides), or
replay a launch (post the same form twice).
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.db.engine import Database
from app.db.models import LtiPlatform
from app.lib.lti import claims as c
from tests.support.lti.server import PlatformServer, Recorded, Reply

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
_UNSET: Any = object()


def new_key(kid: str | None = None) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid or f"platform-{secrets.token_hex(4)}", "alg": "RS256"})


@dataclass
class LoginResult:
    status: int
    state: str
    nonce: str
    auth_params: dict[str, str]
    storage_target: str | None
    body: str


@dataclass
class TestPlatform:
    """One LMS registration. ``server`` (optional: pure tests mint tokens without one) serves ``/jwks``."""

    __test__ = False  # not a pytest class

    server: PlatformServer | None = None
    issuer: str = ""
    client_id: str = field(default_factory=lambda: f"client-{secrets.token_hex(4)}")
    deployment_id: str = field(default_factory=lambda: f"deployment-{secrets.token_hex(3)}")
    name: str = "Test LMS"
    tool_url: str = "http://127.0.0.1:8000"  # the tool's base_url (settings.base_url)
    keys: list[RSAKey] = field(default_factory=lambda: [new_key()])
    published: list[RSAKey] | None = None  # None: every key in ``keys``
    id: uuid.UUID | None = None  # the registration's id once inserted
    org_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if not self.issuer:
            base = self.server.url if self.server is not None else "https://lms.example.test"
            self.issuer = f"{base}/{secrets.token_hex(4)}"
        if self.server is not None:
            self.server.route("GET", self.jwks_path, lambda _r: Reply(200, self.jwks()))

    # --- keys -------------------------------------------------------------------------------------------
    @property
    def key(self) -> RSAKey:
        return self.keys[-1]

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    @property
    def jwks_path(self) -> str:
        return f"{urlsplit(self.issuer).path or ''}/jwks"

    @property
    def key_set_url(self) -> str:
        assert self.server is not None
        return f"{self.server.url}{self.jwks_path}"

    @property
    def auth_login_url(self) -> str:
        return f"{self.issuer}/auth"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in (self.published or self.keys)]}

    def rotate(self) -> RSAKey:
        """A new signing key with a new kid, published next to the old one."""
        self.keys.append(new_key())
        return self.key

    def jwks_fetches(self) -> list[Recorded]:
        assert self.server is not None
        return self.server.requests(self.jwks_path, "GET")

    # --- tokens -----------------------------------------------------------------------------------------
    def claims(
        self,
        *,
        nonce: str,
        message_type: str = c.RESOURCE_LINK_REQUEST,
        sub: str | None = "user-1",
        roles: list[str] | None = None,
        context: dict[str, Any] | None = _UNSET,
        resource_link: dict[str, Any] | None = _UNSET,
        custom: dict[str, str] | None = None,
        ags: dict[str, Any] | None = None,
        nrps: dict[str, Any] | None = None,
        deep_linking: dict[str, Any] | None = None,
        person: dict[str, str] | None = None,
        target_link_uri: str | None = None,
        iat: float | None = _UNSET,  # None: no iat claim
        exp: float | None = _UNSET,  # None: no exp claim
        **overrides: Any,
    ) -> dict[str, Any]:
        now = time.time()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "iat": int(now if iat is _UNSET else iat or 0),
            "exp": int(now + 300 if exp is _UNSET else exp or 0),
            "nonce": nonce,
            c.MESSAGE_TYPE: message_type,
            c.VERSION: c.LTI_VERSION,
            c.DEPLOYMENT_ID: self.deployment_id,
            c.TARGET_LINK_URI: target_link_uri or f"{self.tool_url}/lti/launch",
            c.ROLES: roles if roles is not None else [LEARNER],
            c.TOOL_PLATFORM: {"guid": "test-lms", "name": self.name, "product_family_code": "test"},
            **(person if person is not None else {"name": "Ada Lovelace", "email": "ada@lms.example"}),
        }
        if sub is not None:
            claims["sub"] = sub
        if iat is None:
            del claims["iat"]
        if exp is None:
            del claims["exp"]
        if context is _UNSET:
            context = {"id": "course-101", "title": "Intro to Python", "label": "PY101"}
        if context is not None:
            claims[c.CONTEXT] = context
        if message_type == c.RESOURCE_LINK_REQUEST:
            if resource_link is _UNSET:
                resource_link = {"id": "link-1", "title": "Lesson"}
            if resource_link is not None:
                claims[c.RESOURCE_LINK] = resource_link
        if message_type == c.DEEP_LINKING_REQUEST:
            claims[c.DEEP_LINKING_SETTINGS] = deep_linking or {
                "deep_link_return_url": f"{self.issuer}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": True,
                "accept_lineitem": True,
                "data": "opaque-dl-data",
                "title": "Pick Lyceum content",
            }
        if custom is not None:
            claims[c.CUSTOM] = custom
        if ags is not None:
            claims[c.AGS_ENDPOINT] = ags
        if nrps is not None:
            claims[c.NRPS] = nrps
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def id_token(
        self,
        *,
        key: RSAKey | None = None,
        kid: str | None = None,
        alg: str = "RS256",
        header: dict[str, Any] | None = None,
        **claim_args: Any,
    ) -> str:
        signing = key or self.key
        head = header or {"alg": alg, "kid": kid or str(signing.kid), "typ": "JWT"}
        return jwt.encode(head, self.claims(**claim_args), signing, algorithms=[alg])

    # --- the browser's round trip -----------------------------------------------------------------------
    def login_params(self, **extra: str | None) -> dict[str, str]:
        params = {
            "iss": self.issuer,
            "login_hint": "hint-123",
            "target_link_uri": f"{self.tool_url}/lti/launch",
            "lti_message_hint": "message-hint-abc",
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        for name, value in extra.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value
        return params

    async def login(
        self, client: AsyncTestClient[Litestar], *, method: str = "GET", **params: str | None
    ) -> LoginResult:
        """OIDC login initiation, then the platform's side of the authorization request it leads to."""
        query = self.login_params(**params)
        if method == "GET":
            response = await client.get("/lti/login", params=query, follow_redirects=False)
        else:
            response = await client.post("/lti/login", data=query, follow_redirects=False)
        if response.status_code == 302:
            auth_url = response.headers["location"]
            storage = None
        elif response.status_code == 200 and "lti-login" in response.text:
            data = page_data(response.text)
            auth_url, storage = data["auth_url"], data["storage_target"]
        else:
            return LoginResult(response.status_code, "", "", {}, None, response.text)
        parts = urlsplit(auth_url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == self.auth_login_url, auth_url
        auth = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.check_auth_request(auth)
        return LoginResult(response.status_code, auth["state"], auth["nonce"], auth, storage, response.text)

    def check_auth_request(self, auth: dict[str, str]) -> None:
        """What the platform's OIDC authorization endpoint verifies (LTI 1.3 Security Framework §5.1.1.2)."""
        assert auth["scope"] == "openid"
        assert auth["response_type"] == "id_token"
        assert auth["response_mode"] == "form_post"
        assert auth["prompt"] == "none"
        assert auth["client_id"] == self.client_id
        assert auth["redirect_uri"].endswith("/lti/launch")
        assert auth["login_hint"] == "hint-123"
        assert auth.get("lti_message_hint") == "message-hint-abc"
        assert auth["state"]
        assert auth["nonce"]

    async def post_launch(self, client: AsyncTestClient[Litestar], id_token: str, state: str) -> Any:
        return await client.post("/lti/launch", data={"id_token": id_token, "state": state}, follow_redirects=False)

    async def launch_response(self, client: AsyncTestClient[Litestar], **token_args: Any) -> Any:
        """Login, authorization and the launch POST; the launch's response (an HTML page)."""
        login = await self.login(client)
        assert login.status == 302, login.body
        return await self.post_launch(client, self.id_token(nonce=login.nonce, **token_args), login.state)

    async def launch(self, client: AsyncTestClient[Litestar], **token_args: Any) -> dict[str, Any]:
        """The whole round trip: login -> auth -> launch -> code exchange; the session JSON."""
        response = await self.launch_response(client, **token_args)
        assert response.status_code == 200, response.text
        exchanged = await client.post("/v1/lti/session", json={"code": launch_code(response.text)})
        assert exchanged.status_code == 200, exchanged.text
        body: dict[str, Any] = exchanged.json()
        return body


def page_data(page: str) -> dict[str, Any]:
    """The JSON a launch/login page carries for its script (``<script type="application/json" id="lti-data">``)."""
    match = re.search(r'<script type="application/json" id="lti-data">(.*?)</script>', page, re.DOTALL)
    assert match, page
    data: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return data


def launch_code(page: str) -> str:
    data = page_data(page)
    url = urlsplit(str(data["next"]))
    assert url.path == "/lti/app", data
    return parse_qs(url.query)["code"][0]


async def insert_registration(settings: Settings, org_id: uuid.UUID, platform: TestPlatform) -> uuid.UUID:
    """Register ``platform`` in ``org_id`` directly in the database (as the admin API would)."""
    db = Database.from_settings(settings)
    try:
        async with db.transaction(org_id) as session:
            row = LtiPlatform(
                org_id=org_id,
                name=platform.name,
                issuer=platform.issuer,
                client_id=platform.client_id,
                auth_login_url=platform.auth_login_url,
                auth_token_url=f"{platform.issuer}/token",
                key_set_url=platform.key_set_url if platform.server is not None else f"{platform.issuer}/jwks",
                deployment_ids=[platform.deployment_id],
                registered_by="admin",
                extra={},
            )
            session.add(row)
            await session.flush()
            platform.id, platform.org_id = row.id, org_id
            return row.id
    finally:
        await db.dispose()
