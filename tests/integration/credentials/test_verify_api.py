"""POST /v1/credentials/verify (issue 13 §4): a credential signed with the org's key passes every check;
tampering, a wrong key, expiry, revocation and garbage each fail the matching check; never a 5xx."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.lib.vc.integrity import add_proof
from app.lib.vc.keys import SigningKey, generate_key
from app.lib.vc.vcjwt import sign_jwt
from tests.integration.credentials.issuer_helpers import sign_test_credential
from tests.support.stack import auth_headers, make_settings

Client = AsyncTestClient[Litestar]
ORDER_JSON = ["format", "signature", "schema", "issuer", "validity", "status"]
ORDER_JWT = ["format", "signature", "claims", "schema", "issuer", "validity", "status"]


async def _verify(client: Client, body: Any) -> dict[str, Any]:
    response = await client.post("/v1/credentials/verify", json=body)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def _failed(report: dict[str, Any]) -> set[str]:
    return {c["check"] for c in report["checks"] if not c["passed"]}


def _unsigned(credential: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in credential.items() if k != "proof"}


async def test_a_credential_signed_with_the_orgs_key_verifies(client: Client, settings: Settings) -> None:
    _, document, token = await sign_test_credential(settings, "demo")
    report = await _verify(client, {"credential": document})
    assert report["verified"], report
    assert [c["check"] for c in report["checks"]] == ORDER_JSON
    jwt_report = await _verify(client, {"jwt": token})
    assert jwt_report["verified"], jwt_report
    assert [c["check"] for c in jwt_report["checks"]] == ORDER_JWT


async def test_tampering_fails_the_signature(client: Client, settings: Settings) -> None:
    _, document, token = await sign_test_credential(settings, "demo")
    for change in (
        lambda d: d["credentialSubject"]["achievement"].__setitem__("name", "Something grander"),
        lambda d: d.__setitem__("validFrom", "2020-01-01T00:00:00Z"),
        lambda d: d["issuer"].__setitem__("name", "Someone else"),
    ):
        tampered = copy.deepcopy(document)
        change(tampered)
        report = await _verify(client, {"credential": tampered})
        assert not report["verified"]
        assert "signature" in _failed(report)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["achievement"]["name"] = "Something grander"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    report = await _verify(client, {"jwt": f"{header}.{forged}.{signature}"})
    assert not report["verified"]
    assert "signature" in _failed(report)


async def test_a_wrong_key_fails_signature_and_issuer(client: Client, settings: Settings) -> None:
    _, document, _ = await sign_test_credential(settings, "demo")
    kid = document["proof"][0]["verificationMethod"]
    impostor = SigningKey(kid=kid, private_key=generate_key())  # claims the org's kid, signs with its own key
    forged = add_proof(_unsigned(document), impostor, datetime.now(UTC))
    report = await _verify(client, {"credential": forged})
    assert not report["verified"]
    assert "signature" in _failed(report)
    forged_jwt = sign_jwt(_unsigned(document), impostor)
    assert "signature" in _failed(await _verify(client, {"jwt": forged_jwt}))
    # A key of somewhere else (not this deployment's did:web) is never fetched: unresolvable.
    elsewhere = SigningKey(kid="did:web:evil.example:orgs:demo#key-1", private_key=generate_key())
    foreign = add_proof(_unsigned(document), elsewhere, datetime.now(UTC))
    failed = _failed(await _verify(client, {"credential": foreign}))
    assert {"signature", "issuer"} <= failed


async def test_an_expired_credential_fails_validity(client: Client, settings: Settings) -> None:
    now = datetime.now(UTC)
    _, document, token = await sign_test_credential(
        settings, "demo", valid_from=now - timedelta(days=30), valid_until=now - timedelta(days=1)
    )
    for body in ({"credential": document}, {"jwt": token}):
        report = await _verify(client, body)
        assert not report["verified"]
        assert "validity" in _failed(report)
        assert "signature" not in _failed(report)


async def test_a_revoked_credential_fails_status(client: Client, settings: Settings) -> None:
    credential_id, document, token = await sign_test_credential(settings, "demo")
    assert (await _verify(client, {"credential": document}))["verified"]
    staff = await auth_headers(client, "admin@demo.test", "demo")
    revoked = await client.post(
        f"/v1/admin/credentials/{credential_id}/revoke", headers=staff, json={"reason": "Academic misconduct"}
    )
    assert revoked.status_code == 200, revoked.text
    for body in ({"credential": document}, {"jwt": token}):
        report = await _verify(client, body)
        assert not report["verified"]
        assert _failed(report) == {"status"}
        status = next(c for c in report["checks"] if c["check"] == "status")
        assert "revoked" in status["detail"]


async def test_an_unknown_status_list_is_not_trusted(client: Client, settings: Settings) -> None:
    _, document, _ = await sign_test_credential(settings, "demo")
    elsewhere = _unsigned(document)
    elsewhere["credentialStatus"] = {
        **elsewhere["credentialStatus"],
        "statusListCredential": "https://evil.example/status/1",
        "id": "https://evil.example/status/1#5",
    }
    report = await _verify(client, {"credential": elsewhere})
    assert "status" in _failed(report)


@pytest.mark.parametrize(
    "body",
    [
        {"credential": "garbage"},
        {"credential": 42},
        {"credential": None},
        {"credential": []},
        {"credential": {}},
        {"credential": {"@context": "x", "proof": {"type": 1}}},
        {"credential": {"a": "\u0000"}},
        {"jwt": "not.a.jwt"},
        {"jwt": 7},
        {"jwt": ""},
        {"jwt": "eyJhbGciOiJub25lIn0.e30."},  # alg none
        {"jwt": {"nested": True}},
        {"credential": {"id": "x" * 100_000}},
    ],
)
async def test_garbage_fails_format_with_200(client: Client, body: Any) -> None:
    response = await client.post("/v1/credentials/verify", json=body)
    if response.status_code == 422:  # NUL is refused in every JSON body (app/lib/inputs.py)
        assert "\\u0000" in json.dumps(body)
        assert response.headers["content-type"].startswith("application/problem+json")
        return
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verified"] is False
    assert report["checks"][0]["check"] == "format"
    assert not report["checks"][0]["passed"]
    assert report["checks"][0]["detail"]


async def test_bodies_that_are_not_a_request_are_problems(client: Client) -> None:
    for raw, statuses in (
        (b"{not json", (400,)),
        (b"[1, 2]", (400, 422)),
        (b'{"neither": 1}', (422,)),
        (b'"just a string"', (400, 422)),
        (b"[" * 5000 + b"]" * 5000, (400,)),
        (b"\xff\xfe", (400,)),
    ):
        response = await client.post(
            "/v1/credentials/verify", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in statuses, (raw[:20], response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    deep = {"credential": json.loads("[" * 30 + "]" * 30)}
    assert (await client.post("/v1/credentials/verify", json=deep)).status_code == 200
    big = b'{"jwt": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = await client.post("/v1/credentials/verify", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


async def test_verify_is_rate_limited_per_client(settings: Settings) -> None:
    limited = make_settings(
        settings.database_url,
        settings.redis_url,
        settings.redis_key_prefix + "verify-limit:",
        settings.data_dir,
        LYCEUM_RATE_LIMIT_VERIFY_IP="3/60s",
    )
    from app.asgi import create_app

    async with AsyncTestClient(app=create_app(limited)) as client:
        statuses = [(await client.post("/v1/credentials/verify", json={"jwt": "x"})).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]


async def test_status_entries_outside_the_list_are_not_trusted(client: Client, settings: Settings) -> None:
    _, document, _ = await sign_test_credential(settings, "demo")
    status = document["credentialStatus"]
    for change in (
        {"statusListIndex": str(settings.credentials_status_list_size)},  # past the end
        {"statusListIndex": "-1"},
        {"statusListIndex": 5},  # not a string
        {"statusListCredential": status["statusListCredential"].replace("/orgs/demo/", "/orgs/acme/")},
        {"statusListCredential": status["statusListCredential"].replace("/orgs/demo/", "/orgs/nobody/")},
    ):
        altered = {**_unsigned(document), "credentialStatus": {**status, **change}}
        report = await _verify(client, {"credential": altered})
        assert "status" in _failed(report), change
