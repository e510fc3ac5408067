"""VC-JWT as OBv3 §8.2 profiles it: a compact JWS (alg EdDSA) whose payload is the credential itself
plus ``iss`` (issuer.id), ``sub`` (credentialSubject.id), ``jti`` (id), ``nbf`` (validFrom) and, when the
credential has ``validUntil``, ``exp``. Header: ``{"alg": "EdDSA", "kid": <DID URL>, "typ": "JWT"}``.

Only EdDSA/Ed25519 is accepted on verification: ``none``, HMAC and every other algorithm fail the check
before any key is looked up (no algorithm confusion).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from app.lib.vc.checks import Check, parse_datetime
from app.lib.vc.keys import SigningKey

ALGORITHMS = ("EdDSA", "Ed25519")


class _Registry(JWSRegistry):
    """joserfc's registry, limited to Ed25519, without the "EdDSA is deprecated" warning on every call.

    RFC 9864 deprecates the polymorphic "EdDSA" name in favour of "Ed25519", but OBv3 and the verifiers
    in use today expect "EdDSA". Both names are the same Ed25519 algorithm here.
    """

    algorithms = dict(JWSRegistry.algorithms)


_eddsa = copy.copy(JWSRegistry.algorithms["EdDSA"])
_eddsa.security_warning = None
_Registry.algorithms["EdDSA"] = _eddsa
_REGISTRY = _Registry(algorithms=list(ALGORITHMS))
JWT_CLAIMS = ("iss", "sub", "jti", "nbf", "exp")
MAX_TOKEN_BYTES = 256 * 1024


def _issuer_id(credential: Mapping[str, Any]) -> Any:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, Mapping) else issuer


def _subject_id(credential: Mapping[str, Any]) -> Any:
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    return subject.get("id") if isinstance(subject, Mapping) else None


def _numeric_date(value: Any) -> int | None:
    moment = parse_datetime(value)
    return int(moment.timestamp()) if moment is not None else None


def expected_claims(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The registered claims a VC-JWT of ``credential`` carries (OBv3 §8.2.4.1)."""
    claims: dict[str, Any] = {
        "iss": _issuer_id(credential),
        "sub": _subject_id(credential),
        "jti": credential.get("id"),
        "nbf": _numeric_date(credential.get("validFrom")),
    }
    if credential.get("validUntil") is not None:
        claims["exp"] = _numeric_date(credential.get("validUntil"))
    return claims


def sign_jwt(credential: Mapping[str, Any], key: SigningKey) -> str:
    """The compact JWS of ``credential`` (any embedded ``proof`` left out) signed by ``key``."""
    document = {name: value for name, value in credential.items() if name != "proof"}
    claims = expected_claims(document)
    missing = [name for name, value in claims.items() if value is None]
    if missing:
        raise ValueError(f"credential lacks what the JWT claims mirror: {', '.join(missing)}")
    header = {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}
    payload = json.dumps({**document, **claims}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return jws.serialize_compact(header, payload, OKPKey.import_key(key.private_key), registry=_REGISTRY)


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def decode_unverified(token: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of a compact JWS without checking anything; ``ValueError`` when malformed."""
    if not isinstance(token, str):
        raise ValueError("a VC-JWT must be a string")
    if len(token) > MAX_TOKEN_BYTES:
        raise ValueError("the VC-JWT is too large")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise ValueError("a compact JWS has three dot-separated parts")
    try:
        header = json.loads(_b64decode(parts[0]))
        payload = json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("the JWS header or payload is not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("the JWS header and payload must be JSON objects")
    return header, payload


def credential_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The credential a VC-JWT payload carries: the payload minus the JWT claims (or VC 1.1's ``vc``)."""
    if "@context" not in payload and isinstance(payload.get("vc"), Mapping):
        return dict(payload["vc"])
    return {name: value for name, value in payload.items() if name not in JWT_CLAIMS}


def verify_jwt_payload(
    token: Any, resolve: Callable[[str], Ed25519PublicKey | None]
) -> tuple[Check, dict[str, Any] | None]:
    """(signature check, the whole verified payload) — the payload only when the signature holds."""
    name = "signature"
    try:
        header, _ = decode_unverified(token)
    except ValueError as exc:
        return Check(name, False, str(exc)), None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        return Check(name, False, f"JWS alg {alg!r} is not accepted (only EdDSA)"), None
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        return Check(name, False, "the JWS header has no kid"), None
    if "crit" in header:
        return Check(name, False, "the JWS header has critical extensions this verifier does not know"), None
    try:
        key = resolve(kid)
    except Exception as exc:
        return Check(name, False, f"key {kid} could not be resolved: {exc}"), None
    if key is None:
        return Check(name, False, f"key {kid} could not be resolved"), None
    try:
        verified = jws.deserialize_compact(token.strip(), OKPKey.import_key(key), registry=_REGISTRY)
        payload = json.loads(verified.payload)
    except JoseError as exc:
        return Check(name, False, f"the JWS signature does not verify with {kid} ({exc.error})"), None
    except (ValueError, TypeError, RecursionError) as exc:
        return Check(name, False, f"the JWS could not be verified: {exc}"), None
    if not isinstance(payload, dict):
        return Check(name, False, "the JWS payload is not a JSON object"), None
    return Check(name, True, f"VC-JWT ({alg}) verified with {kid}"), payload


def verify_jwt(token: str, resolve: Callable[[str], Ed25519PublicKey | None]) -> tuple[Check, dict[str, Any] | None]:
    """(signature check, the credential from the payload) — the credential only when the signature holds."""
    check, payload = verify_jwt_payload(token, resolve)
    return check, (credential_of(payload) if payload is not None else None)


def claims_check(payload: Mapping[str, Any], credential: Mapping[str, Any]) -> Check:
    """``iss``/``sub``/``jti``/``nbf`` (and ``exp``) must mirror the credential (OBv3 §8.2.6.1)."""
    expected = expected_claims(credential)
    problems = []
    for claim in ("iss", "sub", "jti", "nbf"):
        if claim not in payload:
            problems.append(f"{claim} is missing")
        elif payload[claim] != expected[claim] or expected[claim] is None:
            problems.append(f"{claim} {payload[claim]!r} does not match the credential ({expected[claim]!r})")
    if ("exp" in payload or "exp" in expected) and (
        payload.get("exp") != expected.get("exp") or expected.get("exp") is None
    ):
        problems.append(f"exp {payload.get('exp')!r} does not match validUntil ({expected.get('exp')!r})")
    if problems:
        return Check("claims", False, "; ".join(problems))
    return Check(
        "claims", True, "iss, sub, jti, nbf" + (", exp" if "exp" in payload else "") + " mirror the credential"
    )
