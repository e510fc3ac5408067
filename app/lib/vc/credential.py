"""Building the unsigned OpenBadgeCredential (OBv3 AchievementCredential, VC Data Model 2.0).

Contexts: VC 2.0, OBv3 3.0.3, then the OBv3 extensions context, which defines the
``1EdTechJsonSchemaValidator2019`` type of ``credentialSchema``. Without it that type is an undefined term:
the 1EdTech validator rejects the credential ("Undefined JSON-LD term"), jsonld.js in safe mode refuses to
canonicalize it, and pyld and jsonld.js disagree on its canonical form (so the proof would not verify
elsewhere). 1EdTech's own CLR test vectors list the same three contexts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.lib.vc.checks import xsd_datetime
from app.lib.vc.jsonld import OB_V3, OB_V3_EXTENSIONS, VC_V2
from app.lib.vc.schema import SCHEMA_ID, SCHEMA_TYPE

CONTEXTS = (VC_V2, OB_V3, OB_V3_EXTENSIONS)
CREDENTIAL_TYPES = ("VerifiableCredential", "OpenBadgeCredential")


def identity_object(email: str, salt: str) -> dict[str, Any]:
    """A hashed email ``IdentityObject``: ``sha256$<hex sha256(email + salt)>`` (OBv3 §B.1.x, OB 2.0 form).

    The email is normalised (trimmed, lower-cased) so a verifier who hashes what the learner typed matches.
    """
    normalised = email.strip().lower()
    digest = hashlib.sha256((normalised + salt).encode("utf-8")).hexdigest()
    return {
        "type": "IdentityObject",
        "identityHash": f"sha256${digest}",
        "identityType": "emailAddress",
        "hashed": True,
        "salt": salt,
    }


def build_credential(
    *,
    credential_id: str,
    issuer: Mapping[str, Any],
    achievement: Mapping[str, Any],
    subject_id: str,
    identity: Mapping[str, Any],
    valid_from: datetime,
    valid_until: datetime | None,
    status_entry: Mapping[str, Any],
    name: str | None = None,
) -> dict[str, Any]:
    """The unsigned credential. ``issuer`` is a Profile (id = the org's DID, type, name, url, ...),
    ``achievement`` an Achievement (id, type, name, description, criteria, image ...)."""
    issuer_doc = dict(issuer)
    issuer_doc.setdefault("type", ["Profile"])
    achievement_doc = dict(achievement)
    achievement_doc.setdefault("type", ["Achievement"])
    credential: dict[str, Any] = {
        "@context": list(CONTEXTS),
        "id": credential_id,
        "type": list(CREDENTIAL_TYPES),
        "name": name if name is not None else str(achievement_doc.get("name", "")),
        "issuer": issuer_doc,
        "validFrom": xsd_datetime(valid_from),
    }
    if valid_until is not None:
        credential["validUntil"] = xsd_datetime(valid_until)
    credential["credentialSubject"] = {
        "id": subject_id,
        "type": ["AchievementSubject"],
        "achievement": achievement_doc,
        "identifier": [dict(identity)],
    }
    credential["credentialStatus"] = dict(status_entry)
    credential["credentialSchema"] = [{"id": SCHEMA_ID, "type": SCHEMA_TYPE}]
    return credential
