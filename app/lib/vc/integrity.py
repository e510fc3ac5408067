"""W3C Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (VC-DI-EDDSA §3.3).

Signing: proof options (type, cryptosuite, created, verificationMethod, proofPurpose) with the document's
``@context`` form the proof configuration; both it and the unsecured document are canonicalized with
RDFC-1.0; ``hashData = sha256(canonical proof config) || sha256(canonical document)`` is signed with
Ed25519 and the signature becomes ``proofValue`` = "z" + base58btc. Verification recomputes the same bytes.
The 1EdTech OBv3 test vector (``ob_v3p0/impl/linked-data-proof-ob.html``) is a unit test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.lib.vc.checks import Check, xsd_datetime
from app.lib.vc.jsonld import canonicalize
from app.lib.vc.keys import SigningKey

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_PURPOSE = "assertionMethod"
_PROOF_FIELDS = ("type", "cryptosuite", "created", "verificationMethod", "proofPurpose")


def _hash_data(document: Mapping[str, Any], proof_options: Mapping[str, Any], use_cache: bool) -> bytes:
    config = {"@context": document.get("@context"), **proof_options}
    proof_hash = hashlib.sha256(canonicalize(config, use_cache=use_cache).encode("utf-8")).digest()
    document_hash = hashlib.sha256(canonicalize(document, use_cache=use_cache).encode("utf-8")).digest()
    return proof_hash + document_hash


def add_proof(credential: Mapping[str, Any], key: SigningKey, created: datetime) -> dict[str, Any]:
    """A copy of ``credential`` with ``"proof": [<eddsa-rdfc-2022 DataIntegrityProof by key>]``."""
    document = {name: value for name, value in credential.items() if name != "proof"}
    options = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": xsd_datetime(created),
        "verificationMethod": key.kid,
        "proofPurpose": PROOF_PURPOSE,
    }
    # Issuance canonicalizes a new document each time: skip the LRU so it holds verifications only.
    signature = key.private_key.sign(_hash_data(document, options, use_cache=False))
    proof = {**options, "proofValue": "z" + base58.b58encode(signature).decode("ascii")}
    # A one-element array: OBv3's JSON Schema (Appendix A.1: collections are arrays) requires it, and
    # Data Integrity verifiers read a proof set of one exactly like a single proof.
    return {**document, "proof": [proof]}


def proof_of(credential: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The credential's one proof, whether written as an object or a one-element array."""
    proof = credential.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    return proof if isinstance(proof, Mapping) else None


def verify_proof(credential: Mapping[str, Any], resolve: Callable[[str], Ed25519PublicKey | None]) -> Check:
    """Check the credential's DataIntegrityProof; ``resolve`` maps the verificationMethod to a key."""
    name = "signature"
    try:
        if not isinstance(credential, Mapping):
            return Check(name, False, "the credential is not a JSON object")
        proof = proof_of(credential)
        if proof is None:
            return Check(name, False, "no single proof object in the credential")
        if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
            return Check(
                name,
                False,
                f"unsupported proof: type {proof.get('type')!r}, cryptosuite "
                f"{proof.get('cryptosuite')!r} (expected {PROOF_TYPE} / {CRYPTOSUITE})",
            )
        if proof.get("proofPurpose") != PROOF_PURPOSE:
            return Check(name, False, f"proofPurpose is {proof.get('proofPurpose')!r}, not {PROOF_PURPOSE}")
        method = proof.get("verificationMethod")
        if not isinstance(method, str) or not method:
            return Check(name, False, "the proof has no verificationMethod")
        value = proof.get("proofValue")
        if not isinstance(value, str) or not value.startswith("z") or len(value) > 200:
            return Check(name, False, "proofValue is not a base58btc multibase string")
        try:
            signature = base58.b58decode(value[1:])
        except ValueError:
            return Check(name, False, "proofValue is not valid base58btc")
        if len(signature) != 64:
            return Check(name, False, "proofValue is not a 64-byte Ed25519 signature")
        if "@context" in proof and proof["@context"] != credential.get("@context"):
            return Check(name, False, "the proof's @context differs from the credential's")
        key = resolve(method)
        if key is None:
            return Check(name, False, f"verification method {method} could not be resolved")
        options = {field: proof[field] for field in _PROOF_FIELDS if field in proof}
        options.update(
            {k: v for k, v in proof.items() if k not in _PROOF_FIELDS and k not in ("proofValue", "@context")}
        )
        document = {k: v for k, v in credential.items() if k != "proof"}
        data = _hash_data(document, options, use_cache=True)
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return Check(name, False, f"the Data Integrity proof does not verify with {method}")
        return Check(name, True, f"eddsa-rdfc-2022 proof verified with {method}")
    except RecursionError:
        return Check(name, False, "the credential is nested too deeply to canonicalize")
    except Exception as exc:
        return Check(name, False, f"the credential could not be canonicalized: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__
    seen = {id(exc)}
    while cause is not None and id(cause) not in seen:  # a cause chain can loop; never spin on one
        seen.add(id(cause))
        text = str(cause) or text
        cause = cause.__cause__
    return text[:300]
