"""The verifier's checks end to end (app/lib/vc/verify.py): good credentials, tampering, expiry,
revocation, and garbage that must give failed checks, never an exception."""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.lib.vc.integrity import add_proof
from app.lib.vc.keys import generate_key
from app.lib.vc.vcjwt import sign_jwt
from app.lib.vc.verify import verify

from .conftest import ISSUED, NOW, Issuer, make_credential, make_issuer

DI_ORDER = ["format", "signature", "schema", "issuer", "validity", "status"]
JWT_ORDER = ["format", "signature", "claims", "schema", "issuer", "validity", "status"]


async def _verify(issuer: Issuer, value: Any, now: datetime = NOW) -> tuple[bool, dict[str, Any]]:
    verified, checks = await verify(
        value, resolve_key=issuer.resolve_key, resolve_status=issuer.resolve_status, now=now
    )
    names = [check.check for check in checks]
    assert names in (DI_ORDER, JWT_ORDER), names
    assert verified == all(check.passed for check in checks)
    assert all(isinstance(check.detail, str) and check.detail for check in checks)
    return verified, {check.check: check for check in checks}


async def test_a_signed_credential_verifies_both_ways(issuer: Issuer, credential: dict[str, Any]) -> None:
    signed = add_proof(credential, issuer.key, ISSUED)
    verified, checks = await _verify(issuer, signed)
    assert verified, checks
    assert list(checks) == DI_ORDER
    verified, checks = await _verify(issuer, sign_jwt(signed, issuer.key))
    assert verified, checks
    assert list(checks) == JWT_ORDER


@pytest.mark.parametrize(
    ("path", "value", "failing"),
    [
        (("name",), "Forged", "signature"),
        (("issuer", "id"), "did:web:evil.example:orgs:demo", "signature"),
        (("credentialSubject", "id"), "did:example:mallory", "signature"),
        (("validFrom",), "2026-01-01T00:00:00Z", "signature"),
        (("credentialStatus", "statusListIndex"), "6", "signature"),
    ],
)
async def test_tampering_fails(
    issuer: Issuer, credential: dict[str, Any], path: tuple[str, ...], value: Any, failing: str
) -> None:
    signed = add_proof(credential, issuer.key, ISSUED)
    target = signed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    verified, checks = await _verify(issuer, signed)
    assert not verified
    assert not checks[failing].passed


async def test_a_kid_of_another_did_fails_the_issuer_check(issuer: Issuer, credential: dict[str, Any]) -> None:
    other = make_issuer("other")
    issuer.keys.update(other.keys)  # resolvable, valid signature, but not the credential's issuer's key
    signed = add_proof(credential, other.key, ISSUED)
    verified, checks = await _verify(issuer, signed)
    assert not verified
    assert checks["signature"].passed
    assert not checks["issuer"].passed
    assert "does not belong" in checks["issuer"].detail


async def test_wrong_or_unknown_key_fails(issuer: Issuer, credential: dict[str, Any]) -> None:
    signed = add_proof(credential, issuer.key, ISSUED)
    issuer.keys[issuer.key.kid] = generate_key().public_key()
    verified, checks = await _verify(issuer, signed)
    assert not verified
    assert not checks["signature"].passed
    issuer.keys.clear()
    verified, checks = await _verify(issuer, sign_jwt(signed, issuer.key))
    assert not checks["signature"].passed
    assert not checks["issuer"].passed


async def test_a_failing_key_resolver_is_a_failed_check(issuer: Issuer, credential: dict[str, Any]) -> None:
    async def broken(kid: str) -> Any:
        raise ConnectionError("did.json unreachable")

    verified, checks = await verify(
        add_proof(credential, issuer.key, ISSUED), resolve_key=broken, resolve_status=issuer.resolve_status, now=NOW
    )
    assert not verified
    assert "ConnectionError" in checks[1].detail


async def test_validity_window(issuer: Issuer) -> None:
    credential = make_credential(issuer, valid_until=ISSUED + timedelta(days=30))
    signed = add_proof(credential, issuer.key, ISSUED)
    assert (await _verify(issuer, signed))[0]
    verified, checks = await _verify(issuer, signed, now=ISSUED + timedelta(days=31))
    assert not verified
    assert "expired" in checks["validity"].detail
    verified, checks = await _verify(issuer, sign_jwt(signed, issuer.key), now=ISSUED + timedelta(days=31))
    assert not verified
    assert not checks["validity"].passed
    assert checks["claims"].passed
    verified, checks = await _verify(issuer, signed, now=ISSUED - timedelta(seconds=1))
    assert not verified
    assert "not valid before" in checks["validity"].detail


async def test_revoked_and_unknown_status(issuer: Issuer, credential: dict[str, Any]) -> None:
    signed = add_proof(credential, issuer.key, ISSUED)
    issuer.revoked.add(5)
    verified, checks = await _verify(issuer, signed)
    assert not verified
    assert checks["status"].detail == "the credential has been revoked"
    issuer.list_url = "http://elsewhere/list"  # the resolver no longer knows the list: unknown, not "fine"
    verified, checks = await _verify(issuer, signed)
    assert not verified
    assert "could not be checked" in checks["status"].detail


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
async def test_jwt_claims_must_mirror_the_credential(issuer: Issuer, credential: dict[str, Any]) -> None:
    """A payload whose claims disagree with the credential (signed by the issuer's own key) fails claims."""
    from joserfc import jws
    from joserfc.jwk import OKPKey

    payload = {
        **credential,
        "iss": issuer.did,
        "sub": "did:example:someone-else",
        "jti": credential["id"],
        "nbf": int(ISSUED.timestamp()),
    }
    token = jws.serialize_compact(
        {"alg": "EdDSA", "kid": issuer.key.kid, "typ": "JWT"},
        json.dumps(payload).encode(),
        OKPKey.import_key(issuer.key.private_key),
        algorithms=["EdDSA"],
    )
    verified, checks = await _verify(issuer, token)
    assert not verified
    assert checks["signature"].passed
    assert not checks["claims"].passed
    assert "sub" in checks["claims"].detail


async def test_schema_failure_is_reported_with_the_path(issuer: Issuer, credential: dict[str, Any]) -> None:
    del credential["credentialSubject"]["achievement"]["criteria"]
    verified, checks = await _verify(issuer, add_proof(credential, issuer.key, ISSUED))
    assert not verified
    assert checks["signature"].passed
    assert "$.credentialSubject.achievement.criteria" in checks["schema"].detail


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        value = {"nested": value}
    return value


def _b64(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


GARBAGE: list[Any] = [
    None,
    1,
    1.5,
    True,
    "x",
    "",
    "a.b.c",
    "....",
    [],
    [1, 2],
    {},
    {"@context": 5},
    {"@context": ["https://www.w3.org/ns/credentials/v2"]},
    _deep(50),
    _deep(5000),
    {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": "x",
    },
    {"big": ["x" * 1000] * 30_000},
    {1: 2},
    {"value": object()},
    b"bytes",
    f"{_b64({'alg': 'none'})}.{_b64({'iss': 'x'})}.",
    f"{_b64({'alg': 'HS256', 'kid': 'did:web:x#k'})}.{_b64({})}.c2ln",
    f"{_b64([1])}.{_b64('x')}.c2ln",
    "x" * 1_000_000,
]


@pytest.mark.parametrize("value", GARBAGE, ids=lambda value: type(value).__name__)
async def test_garbage_gives_failed_checks_never_an_exception(issuer: Issuer, value: Any) -> None:
    verified, checks = await verify(
        value, resolve_key=issuer.resolve_key, resolve_status=issuer.resolve_status, now=NOW
    )
    assert verified is False
    assert checks[0].check == "format"
    assert not checks[0].passed
    assert all(not check.passed for check in checks)
    assert all(check.detail.startswith("not checked") for check in checks[1:])


async def test_signed_garbage_inside_the_shape_still_never_raises(issuer: Issuer, credential: dict[str, Any]) -> None:
    """Well-formed enough to pass format, hostile inside: wrong types everywhere."""
    signed = add_proof(credential, issuer.key, ISSUED)
    for mutate in (
        lambda c: c.update(validFrom=5, validUntil=[1]),
        lambda c: c.update(credentialStatus="revoked?"),
        lambda c: c.update(credentialStatus={"type": "BitstringStatusListEntry", "statusPurpose": "revocation"}),
        lambda c: c["proof"][0].update(proofValue=5),
        lambda c: c.update(proof=[c["proof"][0], c["proof"][0]]),
        lambda c: c.update(proof=c["proof"][0] | {"proofValue": "zzz"}),
        lambda c: c["credentialSubject"].update(achievement=_deep(25)),
        lambda c: c.update({"@context": [*c["@context"], {"@vocab": 5}]}),
        lambda c: c.update({"@context": [*c["@context"], "https://example.com/not-bundled"]}),
    ):
        candidate = copy.deepcopy(signed)
        mutate(candidate)
        verified, checks = await verify(
            candidate, resolve_key=issuer.resolve_key, resolve_status=issuer.resolve_status, now=NOW
        )
        assert verified is False
        assert [check.check for check in checks][:2] == ["format", "signature"]
