"""Validation of an OIDC ID token (OpenID Connect Core §3.1.3.7) with joserfc.

Pure apart from the key set callback (``KeySetProvider``): the caller backs it with the Redis cache and
asks again with ``refresh=True`` when the token names a key the cached set lacks. Every refusal is an
``IdTokenRefused`` with a stable ``code`` (logged, shown on the error page, asserted by the tests).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwk import KeySet

MAX_ID_TOKEN_BYTES = 64 * 1024
# Asymmetric algorithms only: "none" and HS* (which would let anyone holding the client secret, or our copy
# of a public key used as an HMAC secret, mint tokens) never reach a verifier.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")

KeySetProvider = Callable[[bool], Awaitable[KeySet]]  # refresh -> the provider's current key set


class IdTokenRefused(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Expected:
    issuer: str
    client_id: str
    nonce: str
    now: int
    leeway: int = 60


def _header(token: str) -> dict[str, Any]:
    if len(token.encode("utf-8", "surrogatepass")) > MAX_ID_TOKEN_BYTES:
        raise IdTokenRefused("too_large", f"the ID token is larger than {MAX_ID_TOKEN_BYTES} bytes")
    if token.count(".") != 2:
        raise IdTokenRefused("malformed", "the ID token is not a signed JWT (three dot-separated parts)")
    try:
        return dict(jws.extract_compact(token.encode("ascii")).headers())
    except (JoseError, ValueError, UnicodeError, TypeError) as exc:
        raise IdTokenRefused("malformed", "the ID token's header cannot be decoded") from exc


async def _key_for(kid: str | None, key_set: KeySetProvider) -> KeySet:
    """A key set holding just the token's key: the cached set, then once freshly fetched (a key rotation)."""
    for refresh in (False, True):
        keys = await key_set(refresh)
        if kid is None:
            if len(keys.keys) == 1:  # a provider with one key may leave kid out
                return keys
            raise IdTokenRefused("missing_kid", "the ID token names no key ('kid') and the provider has several")
        match = [k for k in keys.keys if k.kid == kid]
        if match:
            return KeySet(match)
    raise IdTokenRefused("unknown_kid", f"the provider's key set has no key {kid!r}")


def _check_audience(claims: dict[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    azp = claims.get("azp")
    # Core §3.1.3.7 (4, 5): with several audiences the token must say it was issued to us.
    if len(audiences) > 1 and azp is None:
        raise IdTokenRefused("wrong_azp", "an ID token with several audiences must name this client in 'azp'")
    if azp is not None and azp != client_id:
        raise IdTokenRefused("wrong_azp", "the ID token's 'azp' is not this client")


_CLAIM_CODES = {"iss": "wrong_issuer", "aud": "wrong_audience", "nonce": "nonce_mismatch", "sub": "missing_sub"}


async def validate_id_token(token: str, expected: Expected, key_set: KeySetProvider) -> dict[str, Any]:
    """The token's claims once the signature, issuer, audience (and azp), times and nonce check out."""
    header = _header(token)
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise IdTokenRefused("bad_algorithm", f"algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise IdTokenRefused("malformed", "the ID token's 'kid' is not a string")
    keys = await _key_for(kid, key_set)
    try:
        decoded = jwt.decode(token, keys, algorithms=[str(alg)])
    except (JoseError, ValueError, TypeError) as exc:
        raise IdTokenRefused(
            "bad_signature", "the ID token's signature does not verify with the provider's key"
        ) from exc
    claims = decoded.claims
    if not isinstance(claims, dict):
        raise IdTokenRefused("malformed", "the ID token's payload is not a JSON object")
    registry = jwt.JWTClaimsRegistry(
        now=expected.now,
        leeway=expected.leeway,
        iss={"essential": True, "value": expected.issuer},
        sub={"essential": True},
        aud={"essential": True, "value": expected.client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": expected.nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError as exc:
        raise IdTokenRefused("expired", "the ID token has expired") from exc
    except MissingClaimError as exc:
        raise IdTokenRefused("missing_claim", f"the ID token lacks {exc.claim}") from exc
    except ClaimError as exc:
        code = _CLAIM_CODES.get(exc.claim, "bad_claim")
        if exc.claim == "iat":
            code = "issued_in_future"
        raise IdTokenRefused(code, f"the ID token's '{exc.claim}' is not acceptable ({exc.description})") from exc
    _check_audience(claims, expected.client_id)
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise IdTokenRefused("missing_sub", "the ID token's 'sub' is missing or invalid")
    plain: dict[str, Any] = json.loads(json.dumps(claims))  # a plain copy, detached from the token object
    return plain
