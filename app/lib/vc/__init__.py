"""Verifiable-Credential toolkit for Open Badges 3.0: keys, did:web, JSON-LD canonicalization, Data
Integrity (eddsa-rdfc-2022) and VC-JWT proofs, Bitstring Status Lists, the OBv3 JSON Schema, SVG baking
and the verifier's checks. Pure: no database, no settings, no network (contexts are bundled).

Modules: ``keys`` (Ed25519, JWK, Multikey, sealing), ``did`` (did:web, DID documents), ``jsonld``
(canonicalization over bundled contexts), ``integrity`` (eddsa-rdfc-2022), ``vcjwt`` (OBv3 VC-JWT),
``statuslist`` (Bitstring Status List), ``schema`` (OBv3 JSON Schema), ``credential`` (the unsigned
OpenBadgeCredential), ``baking`` (SVG), ``verify`` (the ordered checks). Signing and verifying are CPU
work (about 2-5 ms of a core for a credential never seen before): callers on an event loop that verify
many at once may want a worker thread. See docs/credentials.md."""

from app.lib.vc.checks import Check
from app.lib.vc.keys import SigningKey

__all__ = ["Check", "SigningKey"]
