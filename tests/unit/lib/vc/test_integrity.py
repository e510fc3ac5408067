"""eddsa-rdfc-2022 Data Integrity proofs and the bundled-context canonicalizer (integrity.py, jsonld.py)."""

from __future__ import annotations

import copy
import socket
from datetime import UTC, datetime
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyld import jsonld as pyld_jsonld  # type: ignore[import-untyped]

from app.lib.vc.integrity import add_proof, verify_proof
from app.lib.vc.jsonld import ContextNotBundled, canonicalize, compact, document_loader, expand
from app.lib.vc.keys import SigningKey, generate_key, public_multibase

from .conftest import ISSUED, Issuer, make_credential

# 1EdTech's OBv3 Linked Data Proof test vector (openbadges-specification, ob_v3p0/impl/linked-data-proof-ob.html).
VECTOR_SECRET = "6241a409e6707bb640a0140a8a32bc3d193c33a661747284d6adfa4ed4180be4"
VECTOR_KID = "https://example.edu/issuers/565049#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
VECTOR_PROOF_VALUE = "z5x9aCBYovW3CQCbKdNyhEm7ffYSw1YpEdPywQJoNbzDD2gkzQDKJ1sYKJaWvqZtkMtSbz35HcbgXVEDYHxCzgkCr"
VECTOR_CREDENTIAL: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
    "id": "http://example.com/credentials/3527",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "issuer": {
        "id": "https://example.edu/issuers/565049",
        "type": ["Profile"],
        "url": "https://www.imsglobal.org",
        "name": "Example Corp",
    },
    "validFrom": "2010-01-01T00:00:00Z",
    "name": "Teamwork Badge",
    "credentialSubject": {
        "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
        "type": ["AchievementSubject"],
        "achievement": {
            "id": "https://example.com/achievements/21st-century-skills/teamwork",
            "type": ["Achievement"],
            "criteria": {
                "narrative": (
                    "Team members are nominated for this badge by their peers and recognized upon review by "
                    "Example Corp management."
                )
            },
            "description": (
                "This badge recognizes the development of the capacity to collaborate within a group environment."
            ),
            "name": "Teamwork",
        },
    },
}


def test_the_1edtech_test_vector_is_reproduced() -> None:
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTOR_SECRET))
    assert VECTOR_KID.endswith(public_multibase(private))
    signed = add_proof(VECTOR_CREDENTIAL, SigningKey(VECTOR_KID, private), datetime(2010, 1, 1, 19, 23, 24, tzinfo=UTC))
    assert signed["proof"] == [
        {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": "2010-01-01T19:23:24Z",
            "verificationMethod": VECTOR_KID,
            "proofPurpose": "assertionMethod",
            "proofValue": VECTOR_PROOF_VALUE,
        }
    ]
    assert verify_proof(signed, lambda kid: private.public_key() if kid == VECTOR_KID else None).passed


def _plain_pyld(document: dict[str, Any]) -> str:
    """The canonical form without our caches or processor subclass: what the optimisations must not change."""
    options = {
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
        "documentLoader": document_loader,
        "base": None,
    }
    return pyld_jsonld.normalize(copy.deepcopy(document), options)  # type: ignore[no-any-return]


def test_optimised_canonicalization_matches_plain_pyld(issuer: Issuer) -> None:
    documents = [VECTOR_CREDENTIAL, make_credential(issuer), make_credential(issuer, index=9, valid_until=ISSUED)]
    signed = add_proof(documents[1], issuer.key, ISSUED)
    documents.append({"@context": signed["@context"], **signed["proof"][0]})
    for _ in range(2):  # second round runs on warm caches
        for document in documents:
            assert canonicalize(document) == _plain_pyld(document)
            assert canonicalize(document, use_cache=False) == _plain_pyld(document)


def test_credential_schema_type_is_defined_by_the_extensions_context(credential: dict[str, Any]) -> None:
    nquads = canonicalize(credential)
    assert "<https://purl.imsglobal.org/spec/vccs/v1p0/context.json#1EdTechJsonSchemaValidator2019>" in nquads
    assert "example.org" not in nquads  # no relative IRI resolved against pyld's placeholder base


def test_sign_and_verify(issuer: Issuer, credential: dict[str, Any]) -> None:
    signed = add_proof(credential, issuer.key, ISSUED)
    assert signed["proof"][0]["verificationMethod"] == issuer.key.kid
    assert signed["proof"][0]["proofValue"].startswith("z")
    assert "proof" not in credential  # a copy
    check = verify_proof(signed, issuer.keys.get)
    assert check.passed, check.detail


def test_proof_survives_a_json_ld_expand_compact_round_trip(issuer: Issuer, credential: dict[str, Any]) -> None:
    signed = add_proof(credential, issuer.key, ISSUED)
    round_tripped = compact(expand(signed), {"@context": signed["@context"]})
    assert round_tripped != signed  # compaction rewrote the JSON (e.g. single-element arrays)...
    check = verify_proof(round_tripped, issuer.keys.get)
    assert check.passed, check.detail  # ...but not the graph the proof covers


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("name",), "Forged Badge"),
        (("issuer", "id"), "did:web:evil.example:orgs:demo"),
        (("credentialSubject", "id"), "urn:uuid:00000000-0000-0000-0000-000000000000"),
        (("validFrom",), "2020-01-01T00:00:00Z"),
        (("credentialStatus", "statusListIndex"), "6"),
        (("credentialSubject", "achievement", "criteria", "narrative"), "Nothing."),
        (("proof", 0, "created"), "2026-11-30T12:00:01Z"),
    ],
)
def test_tampering_breaks_the_proof(
    issuer: Issuer, credential: dict[str, Any], path: tuple[Any, ...], value: Any
) -> None:
    signed = add_proof(credential, issuer.key, ISSUED)
    _set(signed, path, value)
    assert not verify_proof(signed, issuer.keys.get).passed


def test_tampered_proof_value_and_kid_fail(issuer: Issuer, credential: dict[str, Any]) -> None:
    signed = add_proof(credential, issuer.key, ISSUED)
    flipped = copy.deepcopy(signed)
    value = flipped["proof"][0]["proofValue"]
    flipped["proof"][0]["proofValue"] = value[:-2] + ("1" if value[-2] != "1" else "2") + value[-1]
    assert not verify_proof(flipped, issuer.keys.get).passed
    other = copy.deepcopy(signed)
    other["proof"][0]["verificationMethod"] = issuer.key.kid + "x"
    issuer.keys[issuer.key.kid + "x"] = generate_key().public_key()
    check = verify_proof(other, issuer.keys.get)
    assert not check.passed


def test_wrong_key_fails(issuer: Issuer, credential: dict[str, Any]) -> None:
    signed = add_proof(credential, issuer.key, ISSUED)
    check = verify_proof(signed, lambda kid: generate_key().public_key())
    assert not check.passed
    assert "does not verify" in check.detail
    assert "could not be resolved" in verify_proof(signed, lambda kid: None).detail


def test_nothing_touches_the_network(monkeypatch: pytest.MonkeyPatch, credential: dict[str, Any]) -> None:
    """Canonicalizing (a good credential, then one naming a foreign context) opens no socket."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    canonicalize(credential, use_cache=False)
    foreign = {**credential, "@context": [*credential["@context"], "https://example.com/ctx.jsonld"]}
    with pytest.raises(pyld_jsonld.JsonLdError):
        canonicalize(foreign, use_cache=False)
    assert attempts == []


def test_an_undefined_property_is_refused_not_left_unsigned(issuer: Issuer, credential: dict[str, Any]) -> None:
    with pytest.raises(pyld_jsonld.JsonLdError, match="recipientName"):
        add_proof({**credential, "recipientName": "Ada"}, issuer.key, ISSUED)
    signed = add_proof(credential, issuer.key, ISSUED)
    signed["credentialSubject"]["nickname"] = "Mallory"  # added after signing: not covered by the proof
    check = verify_proof(signed, issuer.keys.get)
    assert not check.passed
    assert "nickname" in check.detail


def test_loader_refuses_anything_not_bundled() -> None:
    with pytest.raises(ContextNotBundled):
        document_loader("https://example.com/evil-context.jsonld")
    check = verify_proof(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2", "http://127.0.0.1:9/ctx"],
            "proof": {
                "type": "DataIntegrityProof",
                "cryptosuite": "eddsa-rdfc-2022",
                "proofPurpose": "assertionMethod",
                "verificationMethod": "did:web:x#k",
                "proofValue": "z" + base58.b58encode(bytes(range(64))).decode(),
            },
        },
        lambda kid: generate_key().public_key(),
    )
    assert not check.passed
    assert "not bundled" in check.detail


def test_canonicalization_from_several_threads_matches_serial(issuer: Issuer) -> None:
    """The caches are shared by every thread of a process; concurrent callers get the serial answers."""
    from concurrent.futures import ThreadPoolExecutor

    documents = [make_credential(issuer, index=n) for n in range(24)]
    expected = [_plain_pyld(document) for document in documents]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda document: canonicalize(document, use_cache=False), documents))
    assert results == expected


def _variants(base: dict[str, Any]) -> list[dict[str, Any]]:
    """Documents that reach the bundled type-scoped contexts from different active contexts."""
    inline_vocab = copy.deepcopy(base)
    inline_vocab["@context"] = [*base["@context"], {"@vocab": "https://example.com/terms#"}]
    inline_vocab["credentialSubject"]["favouriteColour"] = "green"
    with_result = copy.deepcopy(base)
    with_result["credentialSubject"]["result"] = [{"type": ["Result"], "value": "A"}]
    with_result["credentialSubject"]["achievement"]["alignment"] = [
        {"type": ["Alignment"], "targetName": "HTTP", "targetUrl": "https://example.com/http"}
    ]
    endorsed = copy.deepcopy(base)
    endorsed["issuer"]["endorsement"] = [
        {
            "@context": base["@context"][:2],
            "id": "https://example.com/endorsements/1",
            "type": ["VerifiableCredential", "EndorsementCredential"],
            "issuer": {"id": "https://example.com/issuer", "type": ["Profile"]},
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": base["issuer"]["id"], "type": ["EndorsementSubject"]},
        }
    ]
    return [base, inline_vocab, with_result, endorsed, base]


def test_memoized_scoped_contexts_match_plain_pyld_across_active_contexts(credential: dict[str, Any]) -> None:
    for document in _variants(credential) * 2:
        assert canonicalize(document, use_cache=False) == _plain_pyld(document)
