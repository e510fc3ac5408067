"""Ed25519 issuer keys: generation, JWK and Multikey forms, sealing under the credentials KEK.

Every organisation signs its credentials with its own Ed25519 key. The private key is stored only sealed
(AES-256-GCM under the key-encryption key, with the key's row identity as associated data, so a sealed
blob copied onto another row does not open); the public key is published as a JWK (``jwks.json``) and as a
Multikey in the organisation's DID document.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from app.lib.sealing import seal, unseal

# multicodec "ed25519-pub" (0xed) as an unsigned varint: the prefix that makes did:key/Multikey values "z6Mk...".
ED25519_PUB_MULTICODEC = b"\xed\x01"


@dataclass(frozen=True)
class SigningKey:
    """A private key with the DID URL (``kid``) verifiers dereference to find its public half."""

    kid: str
    private_key: Ed25519PrivateKey


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _public(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    return _public(key).public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(key: Ed25519PrivateKey | Ed25519PublicKey, kid: str) -> dict[str, str]:
    """The RFC 8037 OKP JWK of the public key, as listed in ``jwks.json``."""
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(public_bytes(key)), "alg": "EdDSA", "use": "sig", "kid": kid}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """Parse an OKP/Ed25519 JWK; anything else raises ``ValueError``."""
    if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an OKP Ed25519 JWK")
    x = jwk.get("x")
    if not isinstance(x, str) or len(x) > 64:
        raise ValueError("JWK has no usable x")
    try:
        raw = _b64url_decode(x)
    except (ValueError, TypeError) as exc:
        raise ValueError("JWK x is not base64url") from exc
    if len(raw) != 32:
        raise ValueError("Ed25519 public key must be 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_multibase(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Multikey ``publicKeyMultibase``: "z" + base58btc(0xed01 || key)."""
    return "z" + base58.b58encode(ED25519_PUB_MULTICODEC + public_bytes(key)).decode("ascii")


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    """Inverse of :func:`public_multibase`; raises ``ValueError`` on anything else."""
    if not isinstance(value, str) or not value.startswith("z") or len(value) > 64:
        raise ValueError("not a base58btc multibase value")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError as exc:
        raise ValueError("invalid base58btc") from exc
    if len(raw) != 34 or raw[:2] != ED25519_PUB_MULTICODEC:
        raise ValueError("not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def seal_private_key(key: Ed25519PrivateKey, kek: bytes, aad: bytes) -> bytes:
    """The raw 32-byte private key sealed under the KEK (``app.lib.sealing``)."""
    return seal(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()), kek, aad)


def open_private_key(sealed: bytes, kek: bytes, aad: bytes) -> Ed25519PrivateKey:
    """Open a sealed key; a wrong KEK, wrong ``aad`` or damaged blob raises ``ValueError``."""
    return Ed25519PrivateKey.from_private_bytes(unseal(sealed, kek, aad))
