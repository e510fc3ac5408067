"""Secrets at rest: AES-256-GCM under the deployment's key-encryption key (KEK).

Private keys (the credential issuers' Ed25519 keys, the LTI tool's RSA keys) are stored only sealed, with
the row's identity as associated data so a sealed blob copied onto another row does not open.
Format: ``nonce (12 bytes) || ciphertext+tag``.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import Settings

NONCE_BYTES = 12
KEK_INFO = b"lyceum credentials kek v1"


def key_encryption_key(settings: Settings) -> bytes:
    """The 32-byte KEK: ``LYCEUM_CREDENTIALS_KEK`` (validated as base64 of 32 bytes by load_settings), else
    HKDF-SHA256 of ``LYCEUM_SECRET_KEY`` so a development data dir keeps working without configuration."""
    if settings.credentials_kek:
        return base64.b64decode(settings.credentials_kek.value, validate=True)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEK_INFO)
    return hkdf.derive(settings.secret_key.value.encode())


def seal(plaintext: bytes, kek: bytes, aad: bytes) -> bytes:
    if len(kek) != 32:
        raise ValueError("the KEK must be 32 bytes")
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, plaintext, aad)


def unseal(sealed: bytes, kek: bytes, aad: bytes) -> bytes:
    """Open a sealed blob; a wrong KEK, wrong ``aad`` or damaged blob raises ``ValueError``."""
    if len(kek) != 32:
        raise ValueError("the KEK must be 32 bytes")
    if len(sealed) < NONCE_BYTES + 16:
        raise ValueError("sealed key is too short")
    try:
        return AESGCM(kek).decrypt(bytes(sealed[:NONCE_BYTES]), bytes(sealed[NONCE_BYTES:]), aad)
    except InvalidTag as exc:
        raise ValueError("sealed key does not open with this KEK and associated data") from exc
