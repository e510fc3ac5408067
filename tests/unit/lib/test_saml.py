"""The SAML protocol layer without a server: metadata checks, response checks at fixed instants, what an
assertion's attributes become, return paths; and the libxml2 pairing python3-saml needs (ADR 0015)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import lxml.etree
import pytest
import xmlsec

from app.db.models import SsoConnection
from app.domain.sso.handoff import safe_return_path
from app.domain.sso.saml import external_identity
from app.lib.saml.metadata import MetadataError, parse_idp_metadata
from app.lib.saml.sp import EMAIL_NAMEID, SamlError, ServiceProvider, ValidatedAssertion, validate
from tests.support.saml_idp import PERSISTENT_FORMAT, TestIdp, new_signing_key

SP = ServiceProvider(
    entity_id="https://lyceum.example/v1/auth/sso/acme/saml/metadata",
    acs_url="https://lyceum.example/v1/auth/sso/acme/saml/acs",
)


def test_lxml_and_xmlsec_share_one_libxml2() -> None:
    """xmlsec refuses to load against a different libxml2 than lxml's: upgrading one needs the other (ADR 0015)."""
    assert xmlsec.get_libxml_version() == lxml.etree.LIBXML_VERSION


def test_sp_metadata_has_no_expiry_date() -> None:
    root = lxml.etree.fromstring(SP.metadata_xml().encode())
    assert root.get("entityID") == SP.entity_id
    assert root.get("validUntil") is None


def test_metadata_gives_entity_id_sso_url_and_certificates() -> None:
    idp = TestIdp()
    metadata = parse_idp_metadata(idp.metadata_xml())
    assert metadata.entity_id == idp.entity_id
    assert metadata.sso_url == idp.sso_url
    assert metadata.certificates == (idp.key.cert_b64,)
    assert metadata.certificate_not_after is not None


def test_metadata_with_two_signing_certificates_accepts_either() -> None:
    idp, next_key = TestIdp(), new_signing_key("Next")
    second = (
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{next_key.cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
    )
    xml = idp.metadata_xml().replace("<md:NameIDFormat>", second + "<md:NameIDFormat>", 1)
    metadata = parse_idp_metadata(xml)
    assert set(metadata.certificates) == {idp.key.cert_b64, next_key.cert_b64}
    assert metadata.settings()["x509certMulti"]["signing"] == list(metadata.certificates)


@pytest.mark.parametrize(
    ("xml", "words"),
    [
        ("", "empty"),
        ("<not-closed", "not readable"),
        ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>', "not readable"),
        ("x" * (1024 * 1024 + 1), "larger than"),
    ],
)
def test_unusable_metadata_says_why(xml: str, words: str) -> None:
    with pytest.raises(MetadataError, match=words):
        parse_idp_metadata(xml)


def test_metadata_without_a_redirect_binding_is_refused() -> None:
    xml = TestIdp().metadata_xml().replace("bindings:HTTP-Redirect", "bindings:SOAP")
    with pytest.raises(MetadataError, match="HTTP-Redirect"):
        parse_idp_metadata(xml)


def _signed_response(idp: TestIdp, now: datetime, **overrides: object) -> tuple[str, str]:
    request_id = f"ONELOGIN_{uuid.uuid4().hex}"
    args: dict[str, object] = {
        "in_response_to": request_id,
        "audience": SP.entity_id,
        "recipient": SP.acs_url,
        "name_id": "ada@example.edu",
        "not_before": now - timedelta(seconds=10),
        "not_on_or_after": now + timedelta(minutes=5),
        **overrides,
    }
    assertion = idp.assertion(**args)  # type: ignore[arg-type]
    return request_id, idp.response(assertion, in_response_to=request_id, destination=SP.acs_url)


def test_a_valid_response_and_how_long_its_id_is_kept() -> None:
    idp, now = TestIdp(), datetime.now(UTC)
    request_id, response = _signed_response(idp, now)
    assertion = validate(
        SP, parse_idp_metadata(idp.metadata_xml()), response, request_id=request_id, clock_skew_seconds=60
    )
    assert assertion.name_id == "ada@example.edu"
    assert assertion.name_id_format == EMAIL_NAMEID
    # Kept in the replay cache until the assertion's expiry plus the skew it is still accepted within.
    expected = now.replace(microsecond=0) + timedelta(minutes=5, seconds=60)
    assert abs((assertion.not_on_or_after - expected).total_seconds()) <= 1


def test_an_audience_is_required() -> None:
    """python3-saml accepts an assertion with no AudienceRestriction; we do not."""
    idp, now = TestIdp(), datetime.now(UTC)
    request_id, response = _signed_response(idp, now, audience=None)
    with pytest.raises(SamlError) as refused:
        validate(SP, parse_idp_metadata(idp.metadata_xml()), response, request_id=request_id, clock_skew_seconds=60)
    assert refused.value.code == "wrong_audience"


def test_the_connections_skew_is_applied_to_expiry() -> None:
    """Conditions NotOnOrAfter 90 s ago: inside the library's fixed 300 s; outside a 60 s skew, inside 120 s.
    (The bearer confirmation, which the library checks without any skew, expires later.)"""
    idp, now = TestIdp(), datetime.now(UTC)
    metadata = parse_idp_metadata(idp.metadata_xml())
    late = {
        "not_on_or_after": now - timedelta(seconds=90),
        "confirmation_not_on_or_after": now + timedelta(minutes=5),
    }
    request_id, response = _signed_response(idp, now, **late)
    with pytest.raises(SamlError) as refused:
        validate(SP, metadata, response, request_id=request_id, clock_skew_seconds=60)
    assert refused.value.code == "expired"
    request_id, response = _signed_response(idp, now, **late)
    assert validate(SP, metadata, response, request_id=request_id, clock_skew_seconds=120).name_id


def _connection(**extra: object) -> SsoConnection:
    return SsoConnection(
        protocol="saml",
        display_name="IdP",
        enabled=True,
        role_claim="memberOf",
        role_mapping={"teachers": "instructor"},
        default_role="learner",
        allowed_domains=[],
        extra=dict(extra),
    )


def _assertion(name_id: str, name_id_format: str, attributes: dict[str, list[str]]) -> ValidatedAssertion:
    return ValidatedAssertion(
        name_id=name_id,
        name_id_format=name_id_format,
        attributes=attributes,
        assertion_id="_a1",
        in_response_to="r1",
        not_on_or_after=datetime.now(UTC),
    )


def test_identity_from_usual_attribute_names() -> None:
    identity = external_identity(
        _connection(),
        _assertion(
            "opaque-1",
            PERSISTENT_FORMAT,
            {
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": ["Ada@Example.edu"],
                "givenName": ["Ada"],
                "sn": ["Lovelace"],
                "MEMBEROF": ["teachers", " "],
            },
        ),
    )
    assert identity.subject == "opaque-1"
    assert identity.email == "Ada@Example.edu"  # normalised by ensure_sso_user
    assert identity.name == "Ada Lovelace"
    assert identity.role_values == ("teachers",)
    assert identity.email_verified is False  # SAML emails are unverified unless the connection says otherwise


def test_identity_from_configured_attributes_and_an_email_nameid() -> None:
    connection = _connection(email_attribute="uid-mail", name_attribute="cn", email_verified=True)
    identity = external_identity(
        connection, _assertion("ada@example.edu", EMAIL_NAMEID, {"uid-mail": [], "cn": ["Countess"]})
    )
    assert identity.email == "ada@example.edu"  # the configured attribute is empty: the email-format NameID
    assert identity.name == "Countess"
    assert identity.email_verified is True
    persistent = external_identity(connection, _assertion("opaque", PERSISTENT_FORMAT, {}))
    assert persistent.email == ""  # no email anywhere: provisioning refuses a new identity


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/"),
        ("/courses/1?tab=2", "/courses/1?tab=2"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("/path\nheader", "/"),
        ("/" + "a" * 600, "/"),
    ],
)
def test_return_paths_stay_on_this_site(value: str | None, expected: str) -> None:
    assert safe_return_path(value) == expected  # the shared hand-off's rule, used by the SAML login too
