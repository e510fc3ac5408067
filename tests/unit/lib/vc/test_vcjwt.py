"""VC-JWT (OBv3 §8.2) signing and verification (app/lib/vc/vcjwt.py), and an independent joserfc check."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from app.lib.vc.keys import generate_key, public_jwk
from app.lib.vc.vcjwt import claims_check, decode_unverified, sign_jwt, verify_jwt, verify_jwt_payload

from .conftest import Issuer, make_credential


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_payload_is_the_credential_plus_mirrored_claims(issuer: Issuer) -> None:
    credential = make_credential(issuer, valid_until=datetime(2030, 1, 1, tzinfo=UTC))
    token = sign_jwt(credential, issuer.key)
    header, payload = decode_unverified(token)
    assert header == {"alg": "EdDSA", "kid": issuer.key.kid, "typ": "JWT"}
    assert payload["iss"] == issuer.did
    assert payload["sub"] == credential["credentialSubject"]["id"]
    assert payload["jti"] == credential["id"]
    assert payload["nbf"] == int(datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp())
    assert payload["exp"] == int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    check, verified = verify_jwt(token, issuer.keys.get)
    assert check.passed, check.detail
    assert verified == credential
    assert claims_check(payload, credential).passed


def test_an_embedded_proof_is_not_copied_into_the_payload(issuer: Issuer, credential: dict[str, Any]) -> None:
    token = sign_jwt({**credential, "proof": {"type": "DataIntegrityProof"}}, issuer.key)
    assert "proof" not in decode_unverified(token)[1]


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_independent_joserfc_verification_against_a_jwks(issuer: Issuer, credential: dict[str, Any]) -> None:
    """What an outside verifier does with jwks.json: plain joserfc, not our verify module."""
    token = sign_jwt(credential, issuer.key)
    jwks = {"keys": [public_jwk(generate_key(), "did:web:other#k"), public_jwk(issuer.key.private_key, issuer.key.kid)]}
    key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    token_obj = jose_jwt.decode(token, key_set, algorithms=["EdDSA"])
    assert token_obj.header["kid"] == issuer.key.kid
    assert token_obj.claims["jti"] == credential["id"]
    assert token_obj.claims["credentialSubject"] == credential["credentialSubject"]
    jose_jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer.did}).validate(token_obj.claims)


def test_tampered_payload_fails(issuer: Issuer, credential: dict[str, Any]) -> None:
    header, body, signature = sign_jwt(credential, issuer.key).split(".")
    _, payload = decode_unverified(f"{header}.{body}.{signature}")
    payload["name"] = "Forged"
    check, out = verify_jwt(f"{header}.{_b64(payload)}.{signature}", issuer.keys.get)
    assert not check.passed
    assert out is None


def test_wrong_key_and_unknown_kid_fail(issuer: Issuer, credential: dict[str, Any]) -> None:
    token = sign_jwt(credential, issuer.key)
    check, _ = verify_jwt(token, lambda kid: generate_key().public_key())
    assert not check.passed
    assert "does not verify" in check.detail
    check, _ = verify_jwt(token, lambda kid: None)
    assert not check.passed
    assert "could not be resolved" in check.detail


def test_alg_none_and_hs256_are_refused_before_any_key_lookup(issuer: Issuer, credential: dict[str, Any]) -> None:
    looked_up: list[str] = []

    def resolve(kid: str) -> Any:
        looked_up.append(kid)
        return issuer.key.private_key.public_key()

    _, body, signature = sign_jwt(credential, issuer.key).split(".")
    for alg in ("none", "HS256", "RS256", None):
        header = _b64({"alg": alg, "kid": issuer.key.kid, "typ": "JWT"})
        for sig in ("", signature):
            check, out = verify_jwt_payload(f"{header}.{body}.{sig}", resolve)
            assert not check.passed
            assert out is None
            assert "not accepted" in check.detail
    assert looked_up == []


def test_claims_that_do_not_mirror_the_credential_fail(issuer: Issuer, credential: dict[str, Any]) -> None:
    _, payload = decode_unverified(sign_jwt(credential, issuer.key))
    for claim, value in (("iss", "did:web:evil"), ("sub", "urn:x"), ("jti", "urn:y"), ("nbf", 1)):
        check = claims_check({**payload, claim: value}, credential)
        assert not check.passed
        assert claim in check.detail
    missing = {name: value for name, value in payload.items() if name != "nbf"}
    assert "nbf is missing" in claims_check(missing, credential).detail
    assert not claims_check({**payload, "exp": 2_000_000_000}, credential).passed
