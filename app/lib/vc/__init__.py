"""Verifiable-Credential toolkit for Open Badges 3.0: keys, did:web, JSON-LD canonicalization, Data
Integrity (eddsa-rdfc-2022) and VC-JWT proofs, Bitstring Status Lists, the OBv3 JSON Schema, SVG baking
and the verifier's checks. Pure: no database, no settings, no network (contexts are bundled)."""

from app.lib.vc.checks import Check
from app.lib.vc.keys import SigningKey

__all__ = ["Check", "SigningKey"]
