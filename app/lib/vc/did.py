"""did:web identifiers and DID documents for issuer organisations.

``did:web:<host>%3A<port>:orgs:<slug>`` resolves (did:web method, https) to ``<public_url>/orgs/<slug>/did.json``:
the path of the public URL, if any, becomes further colon-separated segments, and the port is kept
(percent-encoded) only when it is not the scheme's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.lib.vc.keys import public_jwk, public_key_from_jwk, public_key_from_multibase, public_multibase

DID_CONTEXTS = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _segments(public_url: str) -> list[str]:
    parts = urlsplit(public_url.strip())
    if not parts.hostname:
        raise ValueError(f"public URL has no host: {public_url!r}")
    host = parts.hostname
    if ":" in host:  # IPv6 literal keeps its brackets, percent-encoded with the rest
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    path = [segment for segment in parts.path.split("/") if segment]
    return [quote(host, safe=""), *(quote(segment, safe="") for segment in path)]


def did_web(public_url: str, slug: str) -> str:
    """The organisation's issuer DID, e.g. ``did:web:localhost%3A8000:orgs:demo``."""
    return ":".join(["did:web", *_segments(public_url), "orgs", quote(slug, safe="")])


def did_web_document_url(did: str, scheme: str = "https") -> str:
    """Where a did:web resolves (``.../did.json``; ``/.well-known/did.json`` for a bare host)."""
    if not did.startswith("did:web:"):
        raise ValueError("not a did:web")
    segments = [unquote(segment) for segment in did.removeprefix("did:web:").split("#")[0].split(":")]
    if not segments or not segments[0]:
        raise ValueError("did:web has no host")
    path = "/".join(segments[1:]) if len(segments) > 1 else ".well-known"
    return f"{scheme}://{segments[0]}/{path}/did.json"


def did_of_kid(kid: str) -> str:
    """The DID part of a DID URL key id (``did:web:...#key-...`` → ``did:web:...``)."""
    return kid.split("#", 1)[0]


def did_document(did: str, keys: Sequence[tuple[str, Ed25519PublicKey]]) -> dict[str, Any]:
    """A DID document listing every (kid, public key) as a Multikey (with its JWK too).

    Every key is an assertion method, retired ones included: credentials signed before a rotation must
    keep verifying. The kid must be a DID URL of this DID.
    """
    methods = []
    for kid, key in keys:
        if did_of_kid(kid) != did:
            raise ValueError(f"{kid!r} is not a key of {did!r}")
        jwk = public_jwk(key, kid)
        methods.append(
            {
                "id": kid,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": public_multibase(key),
                "publicKeyJwk": {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"]},
            }
        )
    ids = [method["id"] for method in methods]
    return {
        "@context": list(DID_CONTEXTS),
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": list(ids),
        "authentication": list(ids),
    }


def keys_of_document(document: Any) -> dict[str, Ed25519PublicKey]:
    """kid → public key for each usable Ed25519 verification method of a DID document (never raises)."""
    found: dict[str, Ed25519PublicKey] = {}
    methods = document.get("verificationMethod") if isinstance(document, dict) else None
    for method in methods if isinstance(methods, list) else []:
        if not isinstance(method, dict) or not isinstance(method.get("id"), str):
            continue
        try:
            if isinstance(method.get("publicKeyMultibase"), str):
                found[method["id"]] = public_key_from_multibase(method["publicKeyMultibase"])
            elif isinstance(method.get("publicKeyJwk"), dict):
                found[method["id"]] = public_key_from_jwk(method["publicKeyJwk"])
        except ValueError:
            continue
    return found


def keys_of_jwks(jwks: Any) -> dict[str, Ed25519PublicKey]:
    """kid → public key for each OKP Ed25519 key of a JWKS (``{"keys": [...]}``; never raises)."""
    found: dict[str, Ed25519PublicKey] = {}
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    for jwk in keys if isinstance(keys, list) else []:
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
            try:
                found[jwk["kid"]] = public_key_from_jwk(jwk)
            except ValueError:
                continue
    return found
