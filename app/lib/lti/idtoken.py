"""Validation of a platform's id_token (LTI 1.3 launch), in the order of the 1EdTech Security Framework §5.1.3.

Pure: no I/O of its own. The platform's key set comes from a callback (``KeySetProvider``) that the caller
backs with a cache; on an unknown ``kid`` it is asked once more with ``refresh=True`` (the platform may have
rotated its keys since the cache was filled). Every refusal is an ``IdTokenError`` with a stable ``code``
(logged, shown on the error page, asserted by the tests); nothing here raises anything else for bad input.

The nonce is only required to be present: consuming it (single use) needs Redis, so the caller does it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from app.lib.lti import claims as c

# A real id_token is a few kB (Canvas with every claim: ~6 kB); 64 kB leaves room and bounds the parsing.
MAX_ID_TOKEN_BYTES = 64 * 1024
ALGORITHM = "RS256"  # LTI 1.3 requires RS256; "none", HS* (the public key as an HMAC secret) etc. are refused

KeySetProvider = Callable[[bool], Awaitable[KeySet]]  # refresh -> the platform's current key set


class IdTokenError(ValueError):
    """A refused id_token: ``code`` is stable (tests and logs), ``detail`` says why in words."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Expected:
    """What the registration (and the clock) say a valid id_token must show."""

    issuer: str
    client_id: str
    deployment_ids: Collection[str]
    now: float
    leeway: int = 60
    message_types: Collection[str] = c.MESSAGE_TYPES


@dataclass(frozen=True)
class LaunchClaims:
    """A validated launch: the raw claims plus the ones every caller needs, already type-checked."""

    claims: dict[str, Any]
    message_type: str
    deployment_id: str
    sub: str
    roles: tuple[str, ...]
    nonce: str
    expires_at: float

    def get_dict(self, name: str) -> dict[str, Any]:
        value = self.claims.get(name)
        return value if isinstance(value, dict) else {}


def _header_and_payload(token: str) -> tuple[dict[str, Any], bytes]:
    if len(token.encode("utf-8", "surrogatepass")) > MAX_ID_TOKEN_BYTES:
        raise IdTokenError("too_large", f"the id_token is larger than {MAX_ID_TOKEN_BYTES} bytes")
    if token.count(".") != 2:
        raise IdTokenError("malformed", "the id_token is not a compact JWS (three dot-separated parts)")
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        header = compact.headers()
    except (JoseError, ValueError, UnicodeError, TypeError) as exc:
        raise IdTokenError("malformed", "the id_token's header or payload cannot be decoded") from exc
    return dict(header), compact.payload


async def _key_for(kid: str, key_set: KeySetProvider) -> RSAKey:
    for refresh in (False, True):  # the cached set, then once freshly fetched (a rotation on the platform)
        keys = await key_set(refresh)
        match = next((k for k in keys.keys if k.kid == kid), None)
        if match is not None:
            if not isinstance(match, RSAKey):
                raise IdTokenError("bad_signature", f"the platform's key {kid!r} is not an RSA key")
            return match
    raise IdTokenError("unknown_kid", f"the platform's key set has no key {kid!r}")


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IdTokenError(f"missing_{name}", f"the '{name}' claim is missing or not a number")
    return float(value)


def _check_audience(claims: dict[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise IdTokenError("wrong_audience", "the id_token's 'aud' does not contain this tool's client_id")
    azp = claims.get("azp")
    if azp is not None and azp != client_id:
        raise IdTokenError("wrong_azp", "the id_token's 'azp' is not this tool's client_id")
    if len(audiences) > 1 and azp is None:
        raise IdTokenError("wrong_azp", "an id_token with several audiences must name this tool in 'azp'")


def _check_message(claims: dict[str, Any], expected: Expected) -> str:
    message_type = claims.get(c.MESSAGE_TYPE)
    if message_type not in expected.message_types:
        raise IdTokenError("wrong_message_type", f"message type {message_type!r} is not one this endpoint accepts")
    if claims.get(c.VERSION) != c.LTI_VERSION:
        raise IdTokenError("wrong_version", f"LTI version {claims.get(c.VERSION)!r} is not {c.LTI_VERSION}")
    assert isinstance(message_type, str)
    return message_type


def _check_required(claims: dict[str, Any], message_type: str) -> tuple[str, tuple[str, ...]]:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise IdTokenError("missing_sub", "the 'sub' claim (the LMS user) is missing or invalid")
    roles = claims.get(c.ROLES)
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise IdTokenError("missing_roles", "the roles claim is missing or not a list of strings")
    if message_type == c.RESOURCE_LINK_REQUEST:
        link = claims.get(c.RESOURCE_LINK)
        if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
            raise IdTokenError("missing_resource_link", "a resource link launch needs the resource_link claim's id")
    if message_type == c.DEEP_LINKING_REQUEST:
        settings = claims.get(c.DEEP_LINKING_SETTINGS)
        url = settings.get("deep_link_return_url") if isinstance(settings, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise IdTokenError("missing_deep_linking_settings", "a deep linking request needs a deep_link_return_url")
    context = claims.get(c.CONTEXT)
    if context is not None and (not isinstance(context, dict) or not isinstance(context.get("id"), str)):
        raise IdTokenError("bad_context", "the context claim must be an object with an id")
    return sub, tuple(roles)


async def validate_id_token(token: str, expected: Expected, key_set: KeySetProvider) -> LaunchClaims:
    """Every check of a launch's id_token, in the Security Framework's order; the first failure raises."""
    header, _ = _header_and_payload(token)
    # 1. The algorithm, before any key is touched: RS256 only (an HS256 token "signed" with our copy of the
    #    platform's public key, or alg none, must never reach a verifier).
    if header.get("alg") != ALGORITHM:
        raise IdTokenError("bad_algorithm", f"algorithm {header.get('alg')!r} is not {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise IdTokenError("missing_kid", "the id_token's header names no key ('kid')")
    # 2. The signature, with the platform's key of that kid.
    key = await _key_for(kid, key_set)
    try:
        verified = jws.deserialize_compact(token, key, algorithms=[ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise IdTokenError("bad_signature", "the id_token's signature does not verify with the platform's key") from exc
    try:
        claims = json.loads(verified.payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IdTokenError("malformed", "the id_token's payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise IdTokenError("malformed", "the id_token's payload is not a JSON object")
    # 3. Issuer, 4. audience and authorized party.
    if claims.get("iss") != expected.issuer:
        raise IdTokenError("wrong_issuer", "the id_token's 'iss' is not the registered platform issuer")
    _check_audience(claims, expected.client_id)
    # 5. Expiry and issue time, with the configured leeway for clock skew.
    exp = _number(claims, "exp")
    if expected.now > exp + expected.leeway:
        raise IdTokenError("expired", "the id_token has expired")
    if _number(claims, "iat") > expected.now + expected.leeway:
        raise IdTokenError("issued_in_future", "the id_token's 'iat' is in the future")
    # 6. The nonce must be there (the caller checks it against the login's and consumes it).
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise IdTokenError("missing_nonce", "the id_token has no nonce")
    # 7. Deployment, 8. message type and version, 9. the claims each message type requires.
    deployment_id = claims.get(c.DEPLOYMENT_ID)
    if not isinstance(deployment_id, str) or deployment_id not in expected.deployment_ids:
        raise IdTokenError("unregistered_deployment", f"deployment {deployment_id!r} is not registered")
    message_type = _check_message(claims, expected)
    sub, roles = _check_required(claims, message_type)
    return LaunchClaims(
        claims=claims,
        message_type=message_type,
        deployment_id=deployment_id,
        sub=sub,
        roles=roles,
        nonce=nonce,
        expires_at=exp,
    )
