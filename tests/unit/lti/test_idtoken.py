"""The id_token checks (app/lib/lti/idtoken.py), one test per check, in the Security Framework's order."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey

from app.lib.lti import claims as c
from app.lib.lti.idtoken import MAX_ID_TOKEN_BYTES, Expected, IdTokenError, validate_id_token
from tests.support.lti.platform import INSTRUCTOR, TestPlatform, new_key

NONCE = "nonce-123"


class Keys:
    """A key-set provider that records whether it was asked to refresh."""

    def __init__(self, platform: TestPlatform) -> None:
        self.platform = platform
        self.cached = KeySet.import_key_set(platform.jwks())
        self.calls: list[bool] = []

    async def __call__(self, refresh: bool) -> KeySet:
        self.calls.append(refresh)
        if refresh:
            self.cached = KeySet.import_key_set(self.platform.jwks())
        return self.cached


def expected(platform: TestPlatform, **changes: Any) -> Expected:
    base: dict[str, Any] = {
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "deployment_ids": [platform.deployment_id],
        "now": time.time(),
        "leeway": 60,
    }
    return Expected(**{**base, **changes})


async def check(platform: TestPlatform, token: str, keys: Keys | None = None, **changes: Any) -> Any:
    return await validate_id_token(token, expected(platform, **changes), keys or Keys(platform))


async def refused(platform: TestPlatform, token: str, code: str, keys: Keys | None = None, **changes: Any) -> None:
    with pytest.raises(IdTokenError) as caught:
        await check(platform, token, keys, **changes)
    assert caught.value.code == code, caught.value


async def test_a_valid_resource_link_launch_passes() -> None:
    platform = TestPlatform()
    launch = await check(platform, platform.id_token(nonce=NONCE, roles=[INSTRUCTOR]))
    assert launch.message_type == c.RESOURCE_LINK_REQUEST
    assert launch.sub == "user-1"
    assert launch.nonce == NONCE
    assert launch.roles == (INSTRUCTOR,)
    assert launch.deployment_id == platform.deployment_id
    assert launch.get_dict(c.RESOURCE_LINK)["id"] == "link-1"


async def test_a_valid_deep_linking_request_passes() -> None:
    platform = TestPlatform()
    launch = await check(platform, platform.id_token(nonce=NONCE, message_type=c.DEEP_LINKING_REQUEST))
    assert launch.message_type == c.DEEP_LINKING_REQUEST


async def test_oversized_and_malformed_tokens_are_refused() -> None:
    platform = TestPlatform()
    await refused(platform, "x" * (MAX_ID_TOKEN_BYTES + 1), "too_large")
    await refused(platform, "not-a-jwt", "malformed")
    await refused(platform, "a.b.c", "malformed")
    await refused(platform, "\x00.\x00.\x00", "malformed")


async def test_alg_none_and_hs256_are_refused_before_any_key_is_used() -> None:
    platform = TestPlatform()
    keys = Keys(platform)
    payload = base64.urlsafe_b64encode(json.dumps(platform.claims(nonce=NONCE)).encode()).rstrip(b"=").decode()
    head = base64.urlsafe_b64encode(b'{"alg":"none","kid":"' + platform.kid.encode() + b'"}').rstrip(b"=").decode()
    await refused(platform, f"{head}.{payload}.", "bad_algorithm", keys)
    # HS256 "signed" with the platform's public key as the HMAC secret (the classic key-confusion attack).
    secret = OctKey.import_key(json.dumps(platform.jwks()["keys"][0]).encode())
    confused = jwt.encode({"alg": "HS256", "kid": platform.kid}, platform.claims(nonce=NONCE), secret)
    await refused(platform, confused, "bad_algorithm", keys)
    assert keys.calls == []


async def test_missing_kid_is_refused() -> None:
    platform = TestPlatform()
    token = platform.id_token(nonce=NONCE, header={"alg": "RS256", "typ": "JWT"})
    await refused(platform, token, "missing_kid")


async def test_a_wrong_signature_is_refused() -> None:
    platform = TestPlatform()
    impostor = new_key(kid=platform.kid)  # same kid, another private key
    await refused(platform, platform.id_token(nonce=NONCE, key=impostor), "bad_signature")
    token = platform.id_token(nonce=NONCE)
    head, payload, signature = token.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(tampered).encode()).rstrip(b"=").decode()
    await refused(platform, f"{head}.{forged}.{signature}", "bad_signature")


async def test_unknown_kid_refetches_once_then_refuses() -> None:
    platform = TestPlatform()
    keys = Keys(platform)
    await refused(platform, platform.id_token(nonce=NONCE, kid="nobody-has-this"), "unknown_kid", keys)
    assert keys.calls == [False, True]


async def test_a_rotated_kid_is_found_after_the_refetch() -> None:
    platform = TestPlatform()
    keys = Keys(platform)  # cached before the rotation
    platform.rotate()
    launch = await check(platform, platform.id_token(nonce=NONCE), keys)
    assert launch.sub == "user-1"
    assert keys.calls == [False, True]


async def test_wrong_issuer_is_refused() -> None:
    platform = TestPlatform()
    await refused(platform, platform.id_token(nonce=NONCE, iss="https://evil.example"), "wrong_issuer")


async def test_wrong_audience_and_azp_are_refused() -> None:
    platform = TestPlatform()
    await refused(platform, platform.id_token(nonce=NONCE, aud="another-tool"), "wrong_audience")
    await refused(platform, platform.id_token(nonce=NONCE, azp="another-tool"), "wrong_azp")
    several = [platform.client_id, "another-tool"]
    await refused(platform, platform.id_token(nonce=NONCE, aud=several, azp=None), "wrong_azp")
    assert await check(platform, platform.id_token(nonce=NONCE, aud=several))
    assert await check(platform, platform.id_token(nonce=NONCE, aud=[platform.client_id], azp=None))


async def test_expired_token_is_refused_beyond_the_leeway() -> None:
    platform = TestPlatform()
    now = time.time()
    await refused(platform, platform.id_token(nonce=NONCE, iat=now - 600, exp=now - 61), "expired")
    assert await check(platform, platform.id_token(nonce=NONCE, iat=now - 600, exp=now - 30))
    await refused(platform, platform.id_token(nonce=NONCE, exp=None), "missing_exp")


async def test_iat_in_the_future_is_refused() -> None:
    platform = TestPlatform()
    now = time.time()
    await refused(platform, platform.id_token(nonce=NONCE, iat=now + 120, exp=now + 600), "issued_in_future")
    await refused(platform, platform.id_token(nonce=NONCE, iat=None), "missing_iat")


async def test_missing_nonce_is_refused() -> None:
    platform = TestPlatform()
    await refused(platform, platform.id_token(nonce=""), "missing_nonce")


async def test_unregistered_deployment_is_refused() -> None:
    platform = TestPlatform()
    token = platform.id_token(nonce=NONCE, **{c.DEPLOYMENT_ID: "not-registered"})
    await refused(platform, token, "unregistered_deployment")


async def test_wrong_message_type_and_version_are_refused() -> None:
    platform = TestPlatform()
    await refused(
        platform, platform.id_token(nonce=NONCE, message_type="LtiSubmissionReviewRequest"), "wrong_message_type"
    )
    await refused(platform, platform.id_token(nonce=NONCE, **{c.VERSION: "1.1"}), "wrong_version")
    token = platform.id_token(nonce=NONCE, message_type=c.DEEP_LINKING_REQUEST)
    await refused(platform, token, "wrong_message_type", message_types=[c.RESOURCE_LINK_REQUEST])


async def test_required_claims_per_message_type() -> None:
    platform = TestPlatform()
    await refused(platform, platform.id_token(nonce=NONCE, sub=None), "missing_sub")
    await refused(platform, platform.id_token(nonce=NONCE, **{c.ROLES: None}), "missing_roles")
    await refused(platform, platform.id_token(nonce=NONCE, resource_link=None), "missing_resource_link")
    await refused(platform, platform.id_token(nonce=NONCE, resource_link={"title": "no id"}), "missing_resource_link")
    token = platform.id_token(
        nonce=NONCE, message_type=c.DEEP_LINKING_REQUEST, deep_linking={"accept_types": ["ltiResourceLink"]}
    )
    await refused(platform, token, "missing_deep_linking_settings")
    await refused(platform, platform.id_token(nonce=NONCE, context={"title": "no id"}), "bad_context")
    # An empty roles list is valid (the spec allows it): the person is treated as a learner downstream.
    assert await check(platform, platform.id_token(nonce=NONCE, roles=[]))
