"""An identity provider's SAML metadata, read and checked before it is stored.

python3-saml's parser reads the XML without DTDs or entities (XXE and billion-laughs refused); this module adds
what a usable IdP needs and says precisely what is missing: an entity id, a single sign-on endpoint with the
HTTP-Redirect binding (the only one our AuthnRequests use), and at least one signing certificate that parses
(assertions must be signed by it).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

MAX_METADATA_BYTES = 1024 * 1024  # real IdP metadata is a few KB; an aggregate of a federation is refused


class MetadataError(ValueError):
    """Metadata this SP cannot use, with the reason in words an admin can act on."""


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    certificates: tuple[str, ...]  # base64 DER, signing use (or unspecified), in document order
    certificate_not_after: datetime | None  # the earliest expiry among them: shown to admins

    def settings(self) -> dict[str, Any]:
        """The ``idp`` block of python3-saml's settings."""
        idp: dict[str, Any] = {
            "entityId": self.entity_id,
            "singleSignOnService": {"url": self.sso_url, "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT},
            "x509cert": self.certificates[0],
        }
        if len(self.certificates) > 1:  # an IdP rolling its key publishes both: either may sign
            idp["x509certMulti"] = {"signing": list(self.certificates)}
        return idp


def _certificate(text: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, TypeError) as exc:
        raise MetadataError("a signing certificate in the metadata is not a valid X.509 certificate") from exc


def parse_idp_metadata(xml: str | bytes) -> IdpMetadata:
    """The IdP's entity id, redirect-binding SSO URL and signing certificates, or MetadataError."""
    raw = xml.encode() if isinstance(xml, str) else xml
    if not raw.strip():
        raise MetadataError("the metadata is empty")
    if len(raw) > MAX_METADATA_BYTES:
        raise MetadataError(f"the metadata is larger than {MAX_METADATA_BYTES // 1024} KB")
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(raw)
    except Exception as exc:  # lxml syntax errors, forbidden DTDs/entities: the parser raises several kinds
        raise MetadataError(f"the metadata is not readable SAML metadata XML ({type(exc).__name__})") from exc
    idp = parsed.get("idp") or {}
    entity_id = str(idp.get("entityId") or "").strip()
    if not entity_id:
        raise MetadataError("the metadata has no IDPSSODescriptor with an entityID")
    sso_url = str((idp.get("singleSignOnService") or {}).get("url") or "").strip()
    if not sso_url:
        raise MetadataError("the metadata has no SingleSignOnService with the HTTP-Redirect binding")
    certificates: list[str] = []
    multi = (idp.get("x509certMulti") or {}).get("signing") or []
    for text in [*multi, idp.get("x509cert") or ""]:
        cleaned = "".join(str(text).split())
        if cleaned and cleaned not in certificates:
            certificates.append(cleaned)
    if not certificates:
        raise MetadataError('the metadata has no signing certificate (KeyDescriptor use="signing")')
    expiries = [_certificate(text).not_valid_after_utc for text in certificates]
    return IdpMetadata(
        entity_id=entity_id,
        sso_url=sso_url,
        certificates=tuple(certificates),
        certificate_not_after=min(expiries),
    )
