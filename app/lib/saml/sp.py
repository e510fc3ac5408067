"""The service provider's side of Web Browser SSO: AuthnRequests (HTTP-Redirect), SP metadata, and the
validation of a Response posted to the ACS (HTTP-POST).

python3-saml does the XML work: XSD validation, exactly one assertion, the signature by the IdP's certificate
(xmlsec, exclusive c14n, SHA-1 refused), issuer, subject confirmation, and reading only the assertion the
signature references (so a wrapped, unsigned copy is never read: XML signature wrapping). On top of it, this
module is strict where the library is lenient (each check says why):

- the assertion itself must be signed (a signed Response around an unsigned assertion is refused too);
- an AudienceRestriction naming our entity id is required (the library accepts an assertion without one);
- the Response's Destination, when present, and the bearer SubjectConfirmationData's Recipient must equal our
  ACS URL exactly (the library compares prefixes and substrings);
- the Response must answer a request (InResponseTo required: unsolicited, IdP-initiated responses are refused);
- Conditions NotBefore/NotOnOrAfter are checked with the connection's clock skew, not the library's fixed 300 s.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from lxml import etree
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from app.lib.saml.metadata import IdpMetadata

MAX_RESPONSE_BYTES = 512 * 1024  # base64 of a response; real ones are a few KB
MAX_CLOCK_SKEW_SECONDS = 300  # the library's own fixed drift: a connection may ask for less, never more
EMAIL_NAMEID = OneLogin_Saml2_Constants.NAMEID_EMAIL_ADDRESS
TRANSIENT_NAMEID = OneLogin_Saml2_Constants.NAMEID_TRANSIENT


class SamlError(Exception):
    """A refused SAML response, with a stable ``code`` (logged, shown) and a ``detail`` an admin can act on."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ServiceProvider:
    """Our SP for one org: its entity id and ACS URL (what the org's admin registers at their IdP)."""

    entity_id: str
    acs_url: str

    def settings(self, idp: IdpMetadata | None) -> OneLogin_Saml2_Settings:
        data: dict[str, Any] = {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": self.entity_id,
                "assertionConsumerService": {
                    "url": self.acs_url,
                    "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST,
                },
                "NameIDFormat": OneLogin_Saml2_Constants.NAMEID_UNSPECIFIED,
            },
            "security": {
                "authnRequestsSigned": False,  # the SP has no key: requests are bound by their single-use id
                "wantAssertionsSigned": True,
                "wantMessagesSigned": False,  # the assertion's signature is what we trust; the Response's is optional
                "wantAssertionsEncrypted": False,
                "wantNameId": True,
                "wantAttributeStatement": False,  # an IdP sending only a NameID (email format) is usable
                "requestedAuthnContext": False,  # the IdP decides how its users authenticate (MFA is its policy)
                "rejectDeprecatedAlgorithm": True,  # SHA-1 signatures and digests refused
                "signatureAlgorithm": OneLogin_Saml2_Constants.RSA_SHA256,
                "digestAlgorithm": OneLogin_Saml2_Constants.SHA256,
            },
        }
        try:
            if idp is not None:
                data["idp"] = idp.settings()
                return OneLogin_Saml2_Settings(data)
            return OneLogin_Saml2_Settings(data, sp_validation_only=True)
        except OneLogin_Saml2_Error as exc:  # e.g. a LYCEUM_PUBLIC_URL the library does not take for a URL
            raise SamlError("sp_misconfigured", f"this service provider's settings are unusable ({exc})") from exc

    def metadata_xml(self) -> str:
        """SP metadata (entity id, ACS with the POST binding, signed assertions wanted), unsigned. Without the
        library's ``validUntil`` (two days from the request): an admin uploads this file to their IdP once, and
        an IdP honouring the date would drop it after two days although nothing in it changes."""
        metadata = self.settings(None).get_sp_metadata()
        root = etree.fromstring(metadata if isinstance(metadata, bytes) else str(metadata).encode())
        root.attrib.pop("validUntil", None)
        return str(etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode())

    def authn_request(self, idp: IdpMetadata, relay_state: str = "") -> tuple[str, str]:
        """(request id, the IdP URL to redirect the browser to) for a new AuthnRequest (HTTP-Redirect binding)."""
        request = OneLogin_Saml2_Authn_Request(self.settings(idp))
        query = {"SAMLRequest": request.get_request(deflate=True)}
        if relay_state:
            query["RelayState"] = relay_state
        separator = "&" if "?" in idp.sso_url else "?"
        return str(request.get_id()), f"{idp.sso_url}{separator}{urlencode(query)}"


@dataclass(frozen=True)
class ValidatedAssertion:
    name_id: str
    name_id_format: str
    attributes: dict[str, list[str]]
    assertion_id: str
    in_response_to: str
    not_on_or_after: datetime  # the latest instant the assertion may be used: how long its id stays in the replay cache


def _decode(saml_response: str) -> bytes:
    if not saml_response:
        raise SamlError("missing_response", "the form has no SAMLResponse")
    if len(saml_response) > MAX_RESPONSE_BYTES:
        raise SamlError("too_large", "the SAMLResponse is too large")
    try:
        return base64.b64decode(saml_response, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise SamlError("malformed_response", "the SAMLResponse is not base64") from exc


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(value), UTC)
    except Exception as exc:  # the library raises ValueError for most, Exception for some formats
        raise SamlError("malformed_response", f"the timestamp {value[:40]!r} is not a SAML dateTime") from exc


def in_response_to(saml_response: str) -> str | None:
    """The InResponseTo of the (not yet validated) Response: which of our requests to look up. Trusted only after
    ``validate`` (which needs it) checks the signed SubjectConfirmationData carries the same id."""
    _decode(saml_response)
    settings = _stub_settings()
    try:
        document = OneLogin_Saml2_Response(settings, saml_response)
    except Exception as exc:  # not XML, forbidden DTD, no Response element
        raise SamlError("malformed_response", "the SAMLResponse is not a SAML Response document") from exc
    value = document.get_in_response_to()
    return str(value) if value else None


def _stub_settings() -> OneLogin_Saml2_Settings:
    # Parsing alone needs settings; no check uses these values.
    return ServiceProvider(entity_id="urn:lyceum:parse-only", acs_url="https://parse-only.invalid/acs").settings(None)


def validate(
    sp: ServiceProvider,
    idp: IdpMetadata,
    saml_response: str,
    *,
    request_id: str,
    clock_skew_seconds: int,
    now: datetime | None = None,
) -> ValidatedAssertion:
    """The assertion of ``saml_response`` if every check passes, else SamlError naming the first that failed."""
    _decode(saml_response)
    now = now or datetime.now(UTC)
    skew = timedelta(seconds=max(0, min(clock_skew_seconds, MAX_CLOCK_SKEW_SECONDS)))
    settings = sp.settings(idp)
    try:
        response = OneLogin_Saml2_Response(settings, saml_response)
    except Exception as exc:
        raise SamlError("malformed_response", "the SAMLResponse is not a SAML Response document") from exc
    parts = urlsplit(sp.acs_url)
    request_data = {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.hostname or "",
        "server_port": str(parts.port or (443 if parts.scheme == "https" else 80)),
        "script_name": parts.path,
        "post_data": {"SAMLResponse": saml_response},
    }
    try:
        response.is_valid(request_data, request_id=request_id, raise_exceptions=True)
    except Exception as exc:
        raise SamlError(_library_code(exc), f"the IdP's response was refused: {exc}") from exc
    if response.get_in_response_to() != request_id:  # the library skips the comparison when the attribute is absent
        raise SamlError("unsolicited", "the response does not answer a sign-in this service started")
    destination = response.document.get("Destination")
    if destination is not None and destination != sp.acs_url:
        raise SamlError("wrong_destination", f"the response is addressed to {destination[:200]!r}, not this ACS")
    # Everything below is read from the signed assertion only (the library's query follows the signature reference).
    audiences = [str(a).strip() for a in response.get_audiences()]
    if sp.entity_id not in audiences:
        raise SamlError("wrong_audience", "the assertion is not addressed to this service provider (audience)")
    bearer = [
        node.find("saml:SubjectConfirmationData", namespaces=OneLogin_Saml2_Constants.NSMAP)
        for node in response._query_assertion("/saml:Subject/saml:SubjectConfirmation")
        if node.get("Method") == OneLogin_Saml2_Constants.CM_BEARER
    ]
    confirmations = [data for data in bearer if data is not None]
    if not any(
        data.get("Recipient") == sp.acs_url and data.get("InResponseTo") == request_id for data in confirmations
    ):
        raise SamlError("wrong_recipient", "the assertion's bearer confirmation is not for this ACS and request")
    not_on_or_after: datetime | None = None
    for conditions in response._query_assertion("/saml:Conditions"):
        not_before = _time(conditions.get("NotBefore"))
        if not_before is not None and now + skew < not_before:
            raise SamlError("not_yet_valid", "the assertion is not valid yet (NotBefore); check the IdP's clock")
        not_on_or_after = _time(conditions.get("NotOnOrAfter"))
    for data in confirmations:
        limit = _time(data.get("NotOnOrAfter"))
        if limit is not None and (not_on_or_after is None or limit < not_on_or_after):
            not_on_or_after = limit
    if not_on_or_after is None:
        raise SamlError("no_expiry", "the assertion has no NotOnOrAfter: it could be replayed forever")
    if now - skew >= not_on_or_after:
        raise SamlError("expired", "the assertion has expired (NotOnOrAfter)")
    name_id = str(response.get_nameid() or "").strip()
    assertion_id = str(response.get_assertion_id() or "")
    if not assertion_id:
        raise SamlError("malformed_response", "the assertion has no ID")
    attributes = {str(k): [str(v) for v in values if v is not None] for k, values in response.get_attributes().items()}
    return ValidatedAssertion(
        name_id=name_id,
        name_id_format=str(response.get_nameid_format() or ""),
        attributes=attributes,
        assertion_id=assertion_id,
        in_response_to=request_id,
        not_on_or_after=not_on_or_after + skew,
    )


_LIBRARY_CODES = {
    "NO_SIGNED_ASSERTION": "unsigned",
    "NO_SIGNATURE_FOUND": "unsigned",
    "INVALID_SIGNATURE": "bad_signature",
    "WRONG_AUDIENCE": "wrong_audience",
    "WRONG_DESTINATION": "wrong_destination",
    "WRONG_SUBJECTCONFIRMATION": "wrong_recipient",
    "WRONG_INRESPONSETO": "unsolicited",
    "ASSERTION_EXPIRED": "expired",
    "ASSERTION_TOO_EARLY": "not_yet_valid",
    "WRONG_NUMBER_OF_ASSERTIONS": "assertion_count",
    "WRONG_ISSUER": "wrong_issuer",
    "STATUS_CODE_IS_NOT_SUCCESS": "idp_error",
    "INVALID_XML_FORMAT": "malformed_response",
}


def _library_code(exc: Exception) -> str:
    """A stable code for python3-saml's error (its numeric codes are named constants on the error class)."""
    number = getattr(exc, "code", None)
    error_type = type(exc)
    for name, code in _LIBRARY_CODES.items():
        if number is not None and getattr(error_type, name, object()) == number:
            return code
    return "invalid_response"
