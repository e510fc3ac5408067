"""Keys (JWK, Multikey, sealing) and did:web identifiers/documents (app/lib/vc/keys.py, did.py)."""

from __future__ import annotations

import pytest

from app.lib.vc.did import (
    did_document,
    did_of_kid,
    did_web,
    did_web_document_url,
    keys_of_document,
    keys_of_jwks,
)
from app.lib.vc.keys import (
    generate_key,
    open_private_key,
    public_bytes,
    public_jwk,
    public_key_from_jwk,
    public_key_from_multibase,
    public_multibase,
    seal_private_key,
)


def test_jwk_round_trip() -> None:
    key = generate_key()
    jwk = public_jwk(key, "did:web:x#k1")
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert jwk["alg"] == "EdDSA"
    assert jwk["use"] == "sig"
    assert jwk["kid"] == "did:web:x#k1"
    assert "d" not in jwk
    assert public_bytes(public_key_from_jwk(jwk)) == public_bytes(key)


@pytest.mark.parametrize(
    "jwk",
    [
        {},
        {"kty": "RSA"},
        {"kty": "OKP", "crv": "X25519", "x": "AA"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"},
        None,
    ],
)
def test_bad_jwks_raise_value_error(jwk: object) -> None:
    with pytest.raises(ValueError, match=r"JWK|Ed25519"):
        public_key_from_jwk(jwk)  # type: ignore[arg-type]


def test_multibase_is_a_did_key_style_value() -> None:
    key = generate_key()
    value = public_multibase(key)
    assert value.startswith("z6Mk")
    assert public_bytes(public_key_from_multibase(value)) == public_bytes(key)


def test_sealed_key_opens_only_with_the_same_kek_and_aad() -> None:
    key, kek = generate_key(), bytes(range(32))
    sealed = seal_private_key(key, kek, b"org-1:kid-1")
    assert public_bytes(open_private_key(sealed, kek, b"org-1:kid-1")) == public_bytes(key)
    with pytest.raises(ValueError, match="does not open"):
        open_private_key(sealed, bytes(32), b"org-1:kid-1")
    with pytest.raises(ValueError, match="does not open"):
        open_private_key(sealed, kek, b"org-2:kid-1")
    with pytest.raises(ValueError, match="does not open"):
        open_private_key(sealed[:-1] + bytes([sealed[-1] ^ 1]), kek, b"org-1:kid-1")
    assert seal_private_key(key, kek, b"a") != seal_private_key(key, kek, b"a")  # fresh nonce each time


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8000", "did:web:localhost%3A8000:orgs:demo"),
        ("https://lyceum.example.org", "did:web:lyceum.example.org:orgs:demo"),
        ("https://lyceum.example.org:443/", "did:web:lyceum.example.org:orgs:demo"),
        ("http://example.org:80", "did:web:example.org:orgs:demo"),
        ("https://example.org/lyceum", "did:web:example.org:lyceum:orgs:demo"),
    ],
)
def test_did_web(url: str, expected: str) -> None:
    assert did_web(url, "demo") == expected


def test_did_web_resolves_to_the_org_document() -> None:
    assert did_web_document_url("did:web:localhost%3A8000:orgs:demo") == "https://localhost:8000/orgs/demo/did.json"
    assert did_web_document_url("did:web:example.org") == "https://example.org/.well-known/did.json"


def test_did_document_lists_every_key_as_multikey_and_assertion_method() -> None:
    did = did_web("http://localhost:8000", "demo")
    old, new = generate_key(), generate_key()
    keys = [(f"{did}#key-20260101-aaaaaaaa", old.public_key()), (f"{did}#key-20261130-bbbbbbbb", new.public_key())]
    document = did_document(did, keys)
    assert document["id"] == did
    assert [method["id"] for method in document["verificationMethod"]] == [kid for kid, _ in keys]
    assert document["assertionMethod"] == [kid for kid, _ in keys]
    assert all(
        method["type"] == "Multikey" and method["controller"] == did for method in document["verificationMethod"]
    )
    found = keys_of_document(document)
    assert {kid: public_bytes(key) for kid, key in found.items()} == {kid: public_bytes(key) for kid, key in keys}
    assert did_of_kid(keys[0][0]) == did
    with pytest.raises(ValueError, match="is not a key of"):
        did_document(did, [("did:web:other#k", old.public_key())])


def test_jwks_parsing_skips_what_is_not_ed25519() -> None:
    key = generate_key()
    jwks = {"keys": [public_jwk(key, "did:web:x#a"), {"kty": "RSA", "kid": "r"}, "junk", {"kty": "OKP"}]}
    assert list(keys_of_jwks(jwks)) == ["did:web:x#a"]
    assert keys_of_jwks("junk") == {}
    assert keys_of_jwks({"keys": 5}) == {}
