"""Helpers of the LTI administration tests."""

from __future__ import annotations

import uuid
from typing import Any


def platform_body(base: str = "https://lms.example.edu", **overrides: Any) -> dict[str, Any]:
    """A registration as an admin types it; a fresh issuer each time so tests never collide."""
    issuer = f"{base}/{uuid.uuid4().hex[:10]}"
    body = {
        "issuer": issuer,
        "client_id": f"client-{uuid.uuid4().hex[:8]}",
        "auth_login_url": f"{issuer}/auth",
        "auth_token_url": f"{issuer}/token",
        "key_set_url": f"{issuer}/jwks",
        "deployment_ids": ["deployment-1"],
        "name": "Example LMS",
    }
    body.update(overrides)
    return body
