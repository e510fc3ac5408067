"""The test platform's side of LTI Dynamic Registration 1.0: its openid-configuration and a registration
endpoint that checks the registration token, records what the tool sent and answers a client_id and a
deployment id, on a PlatformServer (tests/support/lti/server.py).

Each instance lives under its own path prefix (its issuer), so several platforms can share one server
and every test registers an (issuer, client_id) pair no other test uses."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.lti.server import PlatformServer, Recorded, Reply

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"


class RegistrationPlatform:
    def __init__(
        self,
        server: PlatformServer,
        *,
        product: str = "moodle",
        deployment_id: str = "1",
        registration_token: str | None = None,
    ) -> None:
        self.server = server
        self.prefix = f"/platform-{uuid.uuid4().hex[:12]}"
        self.issuer = server.url + self.prefix
        self.client_id = f"dyn-{uuid.uuid4().hex[:12]}"
        self.deployment_id = deployment_id
        self.product = product
        self.registration_token = registration_token or f"regtok-{uuid.uuid4().hex}"
        self.configuration: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "registration_endpoint": f"{self.issuer}/register",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": [
                "openid",
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
            ],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "claims_supported": ["iss", "sub", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": product,
                "version": "4.3",
                "messages_supported": [{"type": "LtiResourceLinkRequest"}, {"type": "LtiDeepLinkingRequest"}],
            },
        }
        server.route("GET", self.configuration_path, self._configuration)
        server.route("POST", f"{self.prefix}/register", self._register)

    @property
    def configuration_path(self) -> str:
        return f"{self.prefix}/.well-known/openid-configuration"

    @property
    def configuration_url(self) -> str:
        return self.server.url + self.configuration_path

    def registrations(self) -> list[Recorded]:
        """What the tool posted to the registration endpoint."""
        return self.server.requests(f"{self.prefix}/register", "POST")

    def _configuration(self, _: Recorded) -> Reply:
        return Reply(200, self.configuration)

    def _register(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.registration_token}":
            return Reply(401, {"error": "invalid_token"})
        sent = request.json()
        answer = {
            **sent,
            "client_id": self.client_id,
            "registration_client_uri": f"{self.issuer}/register/{self.client_id}",
            TOOL_CONFIGURATION: {**sent.get(TOOL_CONFIGURATION, {}), "deployment_id": self.deployment_id},
        }
        return Reply(200, answer)
