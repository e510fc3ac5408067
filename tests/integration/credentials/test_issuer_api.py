"""Issuer identity over HTTP (issue 13 §1, §3): the public DID document and JWKS, the admin's issuer profile
and key rotation, the signed status list with its ETag, revocation and the staff list."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import uuid
from typing import Any

import structlog
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from joserfc import jws
from joserfc.jwk import KeySet
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.domain.credentials.issuer import signing_key
from app.lib.vc.did import did_web
from app.lib.vc.integrity import proof_of, verify_proof
from app.lib.vc.keys import public_key_from_jwk, public_key_from_multibase
from app.lib.vc.statuslist import Bitstring
from tests.integration.credentials.issuer_helpers import fresh_org, org_of, sign_test_credential, tenant
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]


def _problem(response: Any, status: int) -> dict[str, Any]:
    if status == 422:  # refused input: a schema violation (422) or a malformed body (400)
        assert response.status_code in (400, 422), response.text
    else:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _kid_of(credential: dict[str, Any]) -> str:
    proof = proof_of(credential)
    assert proof is not None
    return str(proof["verificationMethod"])


def _private_forms(settings: Settings, key: Any) -> list[str]:
    raw = key.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return [base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), base64.b64encode(raw).decode(), raw.hex()]


async def test_did_document_and_jwks_are_public(client: Client, settings: Settings) -> None:
    _, document, _ = await sign_test_credential(settings, "demo")  # the demo org has a key from now on
    did = did_web(settings.base_url, "demo")
    response = await client.get("/orgs/demo/did.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/did+json")
    doc = response.json()
    assert doc["id"] == did
    assert doc["@context"][0] == "https://www.w3.org/ns/did/v1"
    kid = _kid_of(document)
    methods = {m["id"]: m for m in doc["verificationMethod"]}
    assert kid in methods
    assert kid in doc["assertionMethod"]
    assert methods[kid]["type"] == "Multikey"
    assert methods[kid]["controller"] == did

    jwks = await client.get("/orgs/demo/jwks.json")
    assert jwks.status_code == 200
    keys = {k["kid"]: k for k in jwks.json()["keys"]}
    assert keys[kid]["kty"] == "OKP"
    assert keys[kid]["crv"] == "Ed25519"
    assert "d" not in keys[kid]
    # Both forms name the same public key.
    multikey = public_key_from_multibase(methods[kid]["publicKeyMultibase"])
    assert multikey.public_bytes_raw() == public_key_from_jwk(keys[kid]).public_bytes_raw()
    assert verify_proof(document, lambda method: public_key_from_jwk(keys[method]) if method in keys else None).passed


async def test_unknown_org_is_404_problem(client: Client) -> None:
    for path in (
        "/orgs/no-such-org/did.json",
        "/orgs/no-such-org/jwks.json",
        f"/orgs/no-such-org/credentials/status/{uuid.uuid4()}",
        f"/orgs/demo/credentials/status/{uuid.uuid4()}",
        "/orgs/demo/credentials/status/not-a-uuid",
        "/orgs/Bad_Slug!/did.json",
    ):
        _problem(await client.get(path), 404)


async def test_a_vc_jwt_verifies_against_the_published_jwks_with_plain_joserfc(
    client: Client, settings: Settings
) -> None:
    _, document, token = await sign_test_credential(settings, "demo")
    jwks = (await client.get("/orgs/demo/jwks.json")).json()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    key_set = KeySet.import_key_set(jwks)
    key = key_set.get_by_kid(header["kid"])
    result = jws.deserialize_compact(token, key, algorithms=["EdDSA"])
    payload = json.loads(result.payload)
    assert payload["iss"] == document["issuer"]["id"]
    assert payload["jti"] == document["id"]
    assert header["alg"] == "EdDSA"


async def test_issuer_profile_defaults_to_the_org_and_admins_edit_it(client: Client, settings: Settings) -> None:
    admin = await auth_headers(client, "admin@acme.test", "acme")
    view = (await client.get("/v1/admin/issuer", headers=admin)).json()
    assert view["did"] == did_web(settings.base_url, "acme")
    assert view["name"]  # the org's name until a profile is saved
    body = {
        "name": "Acme Academy",
        "url": "https://acme.example",
        "email": "badges@acme.example",
        "image_url": "https://acme.example/logo.png",
        "description": "Badges from Acme.",
    }
    updated = await client.put("/v1/admin/issuer", headers=admin, json=body)
    assert updated.status_code == 200, updated.text
    assert {k: updated.json()[k] for k in body} == body
    _problem(await client.put("/v1/admin/issuer", headers=admin, json={**body, "url": "javascript:alert(1)"}), 422)
    _problem(await client.put("/v1/admin/issuer", headers=admin, json={**body, "name": "   "}), 422)
    instructor = await auth_headers(client, "instructor@acme.test", "acme")
    _problem(await client.get("/v1/admin/issuer", headers=instructor), 403)
    # New credentials name the saved profile.
    _, document, _ = await sign_test_credential(settings, "acme")
    assert document["issuer"]["name"] == "Acme Academy"
    assert document["issuer"]["image"] == {"id": "https://acme.example/logo.png", "type": "Image"}
    audit = (await client.get("/v1/audit-log?action=issuer.profile_updated", headers=admin)).json()
    assert audit["total"] >= 1


async def test_rotation_keeps_old_keys_published_and_signs_with_the_new(client: Client, settings: Settings) -> None:
    admin = await auth_headers(client, "admin@acme.test", "acme")
    _, before, token_before = await sign_test_credential(settings, "acme")
    old_kid = _kid_of(before)
    with structlog.testing.capture_logs() as logs:
        rotated = await client.post("/v1/admin/issuer/keys/rotate", headers=admin)
    assert rotated.status_code == 200, rotated.text
    keys = rotated.json()["keys"]
    assert keys[0]["active"]
    new_kid = keys[0]["kid"]
    assert new_kid != old_kid
    old = next(k for k in keys if k["kid"] == old_kid)
    assert not old["active"]
    assert old["retired_at"] is not None

    jwks = {k["kid"] for k in (await client.get("/orgs/acme/jwks.json")).json()["keys"]}
    did_doc = (await client.get("/orgs/acme/did.json")).json()
    assert {old_kid, new_kid} <= jwks
    assert {old_kid, new_kid} <= {m["id"] for m in did_doc["verificationMethod"]}
    _, after, _ = await sign_test_credential(settings, "acme")
    assert _kid_of(after) == new_kid
    # The credential signed before the rotation still verifies.
    verdict = (await client.post("/v1/credentials/verify", json={"credential": before})).json()
    assert verdict["verified"], [c for c in verdict["checks"] if not c["passed"]]
    verdict = (await client.post("/v1/credentials/verify", json={"jwt": token_before})).json()
    assert verdict["verified"], [c for c in verdict["checks"] if not c["passed"]]

    audit = (await client.get("/v1/audit-log?action=issuer.key_rotated", headers=admin)).json()
    assert any(e["after"] == {"kid": new_kid} for e in audit["items"])

    # No private key in any response, audit entry or log line.
    org_id = await org_of(settings, "acme")
    async with tenant(settings, org_id) as session:
        active = await signing_key(session, settings, org_id)
    texts = [
        rotated.text,
        json.dumps(audit),
        json.dumps(did_doc),
        (await client.get("/orgs/acme/jwks.json")).text,
        (await client.get("/v1/admin/issuer", headers=admin)).text,
        repr(logs),
    ]
    for form in _private_forms(settings, active):
        assert not any(form in text for text in texts)


async def test_key_rotation_needs_an_admin(client: Client) -> None:
    for email in ("learner@demo.test", "instructor@demo.test"):
        headers = await auth_headers(client, email, "demo")
        _problem(await client.post("/v1/admin/issuer/keys/rotate", headers=headers), 403)


async def test_status_list_is_signed_cached_and_flips_on_revoke(client: Client, settings: Settings) -> None:
    credential_id, document, _ = await sign_test_credential(settings, "demo")
    status = document["credentialStatus"]
    url = status["statusListCredential"]
    path = url.removeprefix(settings.base_url)
    index = int(status["statusListIndex"])

    first = await client.get(path)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=60"
    listed = first.json()
    assert listed["id"] == url
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["issuer"]["id"] == did_web(settings.base_url, "demo")
    bits = Bitstring.decode(listed["credentialSubject"]["encodedList"])
    assert bits.size >= 131072
    assert not bits.get(index)
    jwks = {k["kid"]: k for k in (await client.get("/orgs/demo/jwks.json")).json()["keys"]}
    assert verify_proof(listed, lambda kid: public_key_from_jwk(jwks[kid]) if kid in jwks else None).passed

    cached = await client.get(path, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.headers["etag"] == etag
    assert (await client.get(path)).headers["etag"] == etag  # stable until something changes

    staff = await auth_headers(client, "instructor@demo.test", "demo")
    revoked = await client.post(
        f"/v1/admin/credentials/{credential_id}/revoke", headers=staff, json={"reason": "Issued in error"}
    )
    assert revoked.status_code == 200, revoked.text
    out = revoked.json()
    assert out["status"] == "revoked"
    assert out["revocation_reason"] == "Issued in error"
    assert out["revoked_at"]

    after = await client.get(path, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    relisted = after.json()
    assert Bitstring.decode(relisted["credentialSubject"]["encodedList"]).get(index)
    jwks = {k["kid"]: k for k in (await client.get("/orgs/demo/jwks.json")).json()["keys"]}
    assert verify_proof(relisted, lambda kid: public_key_from_jwk(jwks[kid]) if kid in jwks else None).passed
    tampered = copy.deepcopy(relisted)
    tampered["credentialSubject"]["encodedList"] = listed["credentialSubject"]["encodedList"]
    assert not verify_proof(tampered, lambda kid: public_key_from_jwk(jwks[kid]) if kid in jwks else None).passed

    again = await client.post(f"/v1/admin/credentials/{credential_id}/revoke", headers=staff, json={"reason": "x"})
    assert _problem(again, 409)["type"].endswith("/already-revoked")
    admin = await auth_headers(client, "admin@demo.test", "demo")
    audit = (await client.get("/v1/audit-log?action=credential.revoked", headers=admin)).json()
    assert any(e["entity_id"] == str(credential_id) for e in audit["items"])


async def test_revoke_rbac_and_validation(client: Client, settings: Settings) -> None:
    credential_id, _, _ = await sign_test_credential(settings, "demo")
    path = f"/v1/admin/credentials/{credential_id}/revoke"
    learner = await auth_headers(client, "learner@demo.test", "demo")
    _problem(await client.post(path, headers=learner, json={"reason": "no"}), 403)
    other_org = await auth_headers(client, "admin@acme.test", "acme")
    _problem(await client.post(path, headers=other_org, json={"reason": "not yours"}), 404)
    admin = await auth_headers(client, "admin@demo.test", "demo")
    _problem(
        await client.post(f"/v1/admin/credentials/{uuid.uuid4()}/revoke", headers=admin, json={"reason": "x"}), 404
    )
    _problem(await client.post(path, headers=admin, json={"reason": ""}), 422)
    _problem(await client.post(path, headers=admin, json={"reason": "x" * 501}), 422)
    _problem(await client.post(path, headers=admin, json={"reason": "   "}), 422)
    _problem(await client.post(path, headers=admin, json={}), 422)
    # Still active after all of that.
    listed = (await client.get("/v1/admin/credentials?status=active&limit=200", headers=admin)).json()
    assert str(credential_id) in {item["id"] for item in listed["items"]}


async def test_staff_list_filters_and_pages(client: Client, settings: Settings) -> None:
    first, _, _ = await sign_test_credential(settings, "demo")
    second, _, _ = await sign_test_credential(settings, "demo")
    admin = await auth_headers(client, "admin@demo.test", "demo")
    await client.post(f"/v1/admin/credentials/{second}/revoke", headers=admin, json={"reason": "Test"})
    instructor = await auth_headers(client, "instructor@demo.test", "demo")
    page = (await client.get("/v1/admin/credentials?limit=1", headers=instructor)).json()
    assert page["limit"] == 1
    assert len(page["items"]) == 1
    assert page["total"] >= 2
    assert page["next"]
    item = page["items"][0]
    assert set(item) == {
        "id",
        "course_id",
        "course_title",
        "user_id",
        "learner_name",
        "learner_email",
        "issued_at",
        "status",
        "revoked_at",
        "revocation_reason",
    }
    assert item["learner_email"]
    assert item["course_title"]
    # Other tests of the session issue credentials too (tests/integration/credentials/test_issuance.py):
    # find this test's own in the list rather than assuming it is the newest.
    listed = (await client.get("/v1/admin/credentials?limit=200", headers=instructor)).json()["items"]
    mine = next(i for i in listed if i["id"] == str(first))
    assert mine["learner_email"] == "learner@demo.test"
    revoked = (await client.get("/v1/admin/credentials?status=revoked&limit=200", headers=instructor)).json()
    assert str(second) in {i["id"] for i in revoked["items"]}
    assert str(first) not in {i["id"] for i in revoked["items"]}
    assert all(i["status"] == "revoked" for i in revoked["items"])
    course = item["course_id"]
    by_course = (await client.get(f"/v1/admin/credentials?course_id={course}", headers=instructor)).json()
    assert all(i["course_id"] == course for i in by_course["items"])
    _problem(await client.get("/v1/admin/credentials?status=lost", headers=instructor), 422)
    learner = await auth_headers(client, "learner@demo.test", "demo")
    _problem(await client.get("/v1/admin/credentials", headers=learner), 403)
    # Another org's staff see none of these.
    other = (
        await client.get(
            "/v1/admin/credentials?limit=200", headers=await auth_headers(client, "admin@acme.test", "acme")
        )
    ).json()
    assert str(first) not in {i["id"] for i in other["items"]}


async def test_a_fresh_org_publishes_an_empty_key_set(client: Client, settings: Settings) -> None:
    _, slug = await fresh_org(settings)
    assert (await client.get(f"/orgs/{slug}/jwks.json")).json() == {"keys": []}
    doc = (await client.get(f"/orgs/{slug}/did.json")).json()
    assert doc["verificationMethod"] == []


async def test_concurrent_revocations_both_land_in_the_list(client: Client, settings: Settings) -> None:
    (first, document, _), (second, other, _) = [await sign_test_credential(settings, "demo") for _ in range(2)]
    staff = await auth_headers(client, "admin@demo.test", "demo")
    paths = [f"/v1/admin/credentials/{cid}/revoke" for cid in (first, second)]
    responses = await asyncio.gather(*(client.post(p, headers=staff, json={"reason": "Batch"}) for p in paths))
    assert [r.status_code for r in responses] == [200, 200]
    for credential in (document, other):
        status = credential["credentialStatus"]
        listed = (await client.get(status["statusListCredential"].removeprefix(settings.base_url))).json()
        bits = Bitstring.decode(listed["credentialSubject"]["encodedList"])
        assert bits.get(int(status["statusListIndex"]))


async def test_a_list_is_only_published_under_its_own_org(client: Client, settings: Settings) -> None:
    _, document, _ = await sign_test_credential(settings, "acme")
    url = document["credentialStatus"]["statusListCredential"]
    assert (await client.get(url.removeprefix(settings.base_url))).status_code == 200
    _problem(await client.get(url.removeprefix(settings.base_url).replace("/orgs/acme/", "/orgs/demo/")), 404)


async def test_revocation_is_announced_on_the_bus(client: Client, settings: Settings) -> None:
    from app.lib.events import EventBus
    from app.lib.redis import create_redis

    credential_id, _, _ = await sign_test_credential(settings, "demo")
    org_id = await org_of(settings, "demo")
    redis = create_redis(settings.redis_url)
    try:
        bus = EventBus(redis, settings.redis_key_prefix)
        staff = await auth_headers(client, "instructor@demo.test", "demo")
        response = await client.post(
            f"/v1/admin/credentials/{credential_id}/revoke", headers=staff, json={"reason": "Announced"}
        )
        assert response.status_code == 200, response.text
        events = await bus.replay(org_id, None, 200)
    finally:
        await redis.aclose()
    revoked = [e for e in events if e.type == "credential.revoked" and e.data["credential_id"] == str(credential_id)]
    assert len(revoked) == 1
    assert revoked[0].data["reason"] == "Announced"
    assert set(revoked[0].data) == {"credential_id", "course_id", "user_id", "reason"}
