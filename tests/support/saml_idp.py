"""A SAML 2.0 identity provider for the tests: its own RSA key and self-signed certificate made at test time
(``cryptography``), metadata, and signed responses built and signed here with the ``xmlsec`` binding (enveloped
signature, exclusive c14n, RSA-SHA256), so a test can issue exactly the response a check must refuse.

It never signs in anyone itself: a test reads the AuthnRequest id from Lyceum's redirect (``request_id_of``),
asks ``response(...)`` for the answer it wants and posts it to the ACS like a browser would. ``MetadataServer``
serves metadata on 127.0.0.1 for the metadata-URL tests.
"""

from __future__ import annotations

import base64
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
PERSISTENT_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


@dataclass(frozen=True)
class SigningKey:
    key_pem: bytes
    cert_pem: bytes

    @property
    def cert_b64(self) -> str:
        """The certificate as metadata carries it (base64 DER, no PEM armour)."""
        der = x509.load_pem_x509_certificate(self.cert_pem).public_bytes(serialization.Encoding.DER)
        return base64.b64encode(der).decode()


def new_signing_key(common_name: str = "Test IdP") -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
    )


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_element(xml: str, key: SigningKey) -> str:
    """``xml`` (an Assertion or Response with an ID and an Issuer) with an enveloped signature after its Issuer."""
    root = etree.fromstring(xml.encode())
    signature = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
    issuer = root.find(f"{{{SAML}}}Issuer")
    assert issuer is not None
    issuer.addnext(signature)
    reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri="#" + root.get("ID"))
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    key_info = xmlsec.template.ensure_key_info(signature)
    xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(key_info))
    context = xmlsec.SignatureContext()
    signing = xmlsec.Key.from_memory(key.key_pem, xmlsec.constants.KeyDataFormatPem)
    signing.load_cert_from_memory(key.cert_pem, xmlsec.constants.KeyDataFormatPem)
    context.key = signing
    context.register_id(root, "ID")
    context.sign(signature)
    return etree.tostring(root).decode()


def request_id_of(location: str) -> tuple[str, str]:
    """(AuthnRequest ID, AssertionConsumerServiceURL) of an HTTP-Redirect binding URL Lyceum redirected to."""
    query = parse_qs(urlsplit(location).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    root = etree.fromstring(xml)
    return str(root.get("ID")), str(root.get("AssertionConsumerServiceURL"))


@dataclass
class TestIdp:
    __test__ = False  # not a test class (pytest collects Test*)

    entity_id: str = "https://idp.example.test/saml"
    sso_url: str = "https://idp.example.test/saml/sso"
    key: SigningKey = field(default_factory=new_signing_key)

    def metadata_xml(self, *, with_certificate: bool = True) -> str:
        key_descriptor = (
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{self.key.cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            if with_certificate
            else ""
        )
        return (
            '<?xml version="1.0"?>'
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID={quoteattr(self.entity_id)}>'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f"{key_descriptor}"
            "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f"Location={quoteattr(self.sso_url)}/>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f"Location={quoteattr(self.sso_url)}/>"
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

    def assertion(
        self,
        *,
        in_response_to: str | None,
        audience: str | None,
        recipient: str,
        name_id: str,
        name_id_format: str = EMAIL_FORMAT,
        attributes: dict[str, list[str]] | None = None,
        not_before: datetime | None = None,
        not_on_or_after: datetime | None = None,
        confirmation_not_on_or_after: datetime | None = None,
        issuer: str | None = None,
        assertion_id: str | None = None,
        sign_with: SigningKey | None = None,
        signed: bool = True,
    ) -> str:
        now = datetime.now(UTC)
        not_before = not_before or now - timedelta(seconds=30)
        not_on_or_after = not_on_or_after or now + timedelta(minutes=5)
        confirmation_not_on_or_after = confirmation_not_on_or_after or not_on_or_after
        restriction = (
            f"<saml:AudienceRestriction><saml:Audience>{escape(audience)}</saml:Audience></saml:AudienceRestriction>"
            if audience is not None
            else ""
        )
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        statements = "".join(
            f'<saml:Attribute Name={quoteattr(name)} NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">'
            + "".join(f'<saml:AttributeValue xsi:type="xs:string">{escape(v)}</saml:AttributeValue>' for v in values)
            + "</saml:Attribute>"
            for name, values in (attributes or {}).items()
        )
        xml = (
            f'<saml:Assertion xmlns:saml="{SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'ID="{assertion_id or "_a" + uuid.uuid4().hex}" Version="2.0" IssueInstant="{_instant(now)}">'
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            "<saml:Subject>"
            f"<saml:NameID Format={quoteattr(name_id_format)}>{escape(name_id)}</saml:NameID>"
            f'<saml:SubjectConfirmation Method="{BEARER}">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{_instant(confirmation_not_on_or_after)}" '
            f"Recipient={quoteattr(recipient)}{irt}/>"
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{_instant(not_before)}" NotOnOrAfter="{_instant(not_on_or_after)}">'
            f"{restriction}</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{_instant(now)}" SessionIndex="_s{uuid.uuid4().hex}">'
            "<saml:AuthnContext><saml:AuthnContextClassRef>"
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            + (f"<saml:AttributeStatement>{statements}</saml:AttributeStatement>" if statements else "")
            + "</saml:Assertion>"
        )
        return sign_element(xml, sign_with or self.key) if signed else xml

    def response(
        self,
        *assertions: str,
        in_response_to: str | None,
        destination: str | None,
        status: str = "urn:oasis:names:tc:SAML:2.0:status:Success",
    ) -> str:
        """A Response around ``assertions`` (as given: signed, unsigned, several), base64 for the POST binding."""
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        dest = f" Destination={quoteattr(destination)}" if destination else ""
        xml = (
            f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_r{uuid.uuid4().hex}" Version="2.0" '
            f'IssueInstant="{_instant(datetime.now(UTC))}"{dest}{irt}>'
            f"<saml:Issuer>{escape(self.entity_id)}</saml:Issuer>"
            f"<samlp:Status><samlp:StatusCode Value={quoteattr(status)}/></samlp:Status>"
            + "".join(assertions)
            + "</samlp:Response>"
        )
        return base64.b64encode(xml.encode()).decode()


class MetadataServer:
    """Serves documents on 127.0.0.1: ``/<name>`` answers ``documents[name]``; ``redirects[name]`` answers 302."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[int, bytes]] = {}
        self.redirects: dict[str, str] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                if name in outer.redirects:
                    self.send_response(302)
                    self.send_header("Location", outer.redirects[name])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, body = outer.documents.get(name, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def serve(self, name: str, body: str | bytes, status: int = 200) -> str:
        self.documents[name] = (status, body.encode() if isinstance(body, str) else body)
        return f"{self.base_url}/{name}"

    def redirect(self, name: str, location: str) -> str:
        self.redirects[name] = location
        return f"{self.base_url}/{name}"

    @contextmanager
    def running(self) -> Iterator[MetadataServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()
