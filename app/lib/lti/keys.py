"""The tool's RSA keys (LTI 1.3 signs with RS256): generation, the public JWK, sealing, a joserfc key."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_der_private_key
from joserfc.jwk import RSAKey

from app.lib.sealing import seal, unseal

RSA_BITS = 2048
ALGORITHM = "RS256"


def new_kid() -> str:
    return f"lyceum-lti-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def generate_key() -> RSAPrivateKey:
    return generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def public_jwk(key: RSAPrivateKey, kid: str) -> dict[str, Any]:
    """The public half as published in ``/lti/jwks.json``."""
    jwk = RSAKey.import_key(key.public_key()).as_dict(private=False)
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def signing_jwk(key: RSAPrivateKey, kid: str) -> RSAKey:
    """A joserfc key that signs with ``kid`` in the header (``jwt.encode(header, claims, signing_jwk(...))``)."""
    return RSAKey.import_key(key, {"kid": kid, "alg": ALGORITHM, "use": "sig"})


def key_aad(kid: str) -> bytes:
    return f"lti-tool|{kid}".encode()


def seal_key(key: RSAPrivateKey, kek: bytes, kid: str) -> bytes:
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return seal(der, kek, key_aad(kid))


def open_key(sealed: bytes, kek: bytes, kid: str) -> RSAPrivateKey:
    """A wrong KEK, kid or damaged blob raises ``ValueError``."""
    key = load_der_private_key(unseal(sealed, kek, key_aad(kid)), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("sealed LTI tool key is not an RSA key")
    return key
