"""The org admin's SAML connection (``GET/PUT/DELETE /v1/admin/sso/saml``): one per org, every change audited.

Metadata is validated before it is stored (app/lib/saml/metadata.py), so a sign-in never meets an unusable IdP:
an uploaded XML as is, a metadata URL fetched now (https only unless ``LYCEUM_LTI_ALLOW_PRIVATE``, every
address public, no redirects followed, at most 1 MB and 10 s: the LTI platform client's guards) and its
document stored. A PUT without either keeps the stored metadata (an admin turning the connection off or
changing the role mapping does not re-upload it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Organization, SsoConnection
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.sso.saml import DEFAULT_CLOCK_SKEW_SECONDS, service_provider
from app.domain.sso.saml_schemas import SamlConnectionIn, SamlConnectionOut
from app.lib.errors import NotFound, ValidationFailed
from app.lib.lti.http import PlatformHttp, PlatformHttpError, UnsafeUrl, check_url_shape
from app.lib.saml.metadata import MAX_METADATA_BYTES, IdpMetadata, MetadataError, parse_idp_metadata

EXTRA_FIELDS = ("email_attribute", "name_attribute", "email_verified", "clock_skew_seconds")


def _invalid(pointer: str, detail: str) -> ValidationFailed:
    return ValidationFailed("The SAML connection did not validate", errors=[{"pointer": pointer, "detail": detail}])


def snapshot(row: SsoConnection) -> dict[str, Any]:
    """What the audit log keeps of a connection (no metadata body: its IdP entity id and where it came from)."""
    extra = row.extra or {}
    return {
        "display_name": row.display_name,
        "enabled": row.enabled,
        "idp_metadata_url": row.idp_metadata_url,
        "idp_entity_id": str(extra.get("idp_entity_id", "")),
        "allowed_domains": list(row.allowed_domains or []),
        "role_claim": row.role_claim,
        "role_mapping": dict(row.role_mapping or {}),
        "default_role": row.default_role,
        **{name: extra.get(name) for name in EXTRA_FIELDS},
    }


def _domains(values: list[str]) -> list[str]:
    cleaned: list[str] = []
    for index, raw in enumerate(values):
        domain = raw.strip().lower().lstrip("@")
        if not domain or "@" in domain or "." not in domain or any(c.isspace() or c == "/" for c in domain):
            raise _invalid(f"#/allowed_domains/{index}", "not an email domain (like example.edu)")
        if domain not in cleaned:
            cleaned.append(domain)
    return cleaned


@dataclass(eq=False, repr=False, kw_only=True)
class SamlAdminService(TenantService):
    settings: Settings
    http: PlatformHttp

    async def _slug(self, session: AsyncSession) -> str:
        slug = await session.scalar(select(Organization.slug).where(Organization.id == self.principal.org_id))
        return str(slug)

    async def _row(self, session: AsyncSession, *, lock: bool = False) -> SsoConnection | None:
        query = select(SsoConnection).where(SsoConnection.protocol == "saml")
        return await session.scalar(query.with_for_update() if lock else query)

    def _out(self, slug: str, row: SsoConnection | None) -> SamlConnectionOut:
        sp = service_provider(self.settings, slug)
        if row is None:
            return SamlConnectionOut(
                configured=False, sp_entity_id=sp.entity_id, acs_url=sp.acs_url, metadata_url=sp.entity_id
            )
        extra = row.extra or {}
        idp: IdpMetadata | None
        try:
            idp = parse_idp_metadata(row.idp_metadata_xml)
        except MetadataError:
            idp = None
        skew = extra.get("clock_skew_seconds")
        return SamlConnectionOut(
            configured=True,
            sp_entity_id=sp.entity_id,
            acs_url=sp.acs_url,
            metadata_url=sp.entity_id,
            display_name=row.display_name,
            enabled=row.enabled,
            idp_metadata_url=row.idp_metadata_url,
            idp_metadata_xml=row.idp_metadata_xml,
            idp_entity_id=idp.entity_id if idp else "",
            idp_sso_url=idp.sso_url if idp else "",
            idp_certificate_expires_at=idp.certificate_not_after if idp else None,
            allowed_domains=list(row.allowed_domains or []),
            role_claim=row.role_claim,
            role_mapping=dict(row.role_mapping or {}),
            default_role=row.default_role,
            email_attribute=str(extra.get("email_attribute") or ""),
            name_attribute=str(extra.get("name_attribute") or ""),
            email_verified=bool(extra.get("email_verified", False)),
            clock_skew_seconds=skew if isinstance(skew, int) else DEFAULT_CLOCK_SKEW_SECONDS,
            updated_at=row.updated_at,
        )

    async def get(self) -> SamlConnectionOut:
        async with self._tx() as session:
            return self._out(await self._slug(session), await self._row(session))

    async def _fetch(self, url: str) -> str:
        try:
            check_url_shape(url, allow_private=self.settings.lti_allow_private)
            response = await self.http.request("GET", url, headers={"Accept": "application/samlmetadata+xml, */*"})
        except UnsafeUrl as exc:
            raise _invalid("#/idp_metadata_url", str(exc)) from exc
        except PlatformHttpError as exc:
            detail = f"the metadata could not be fetched ({exc})"
            if exc.status is not None and 300 <= exc.status < 400:
                detail = "the metadata URL redirects; give the final https URL (redirects are not followed)"
            raise _invalid("#/idp_metadata_url", detail) from exc
        if len(response.content) > MAX_METADATA_BYTES:
            raise _invalid("#/idp_metadata_url", "the metadata is larger than 1 MB")
        try:
            return response.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid("#/idp_metadata_url", "the metadata is not UTF-8 text") from exc

    def _check_metadata(self, xml: str, pointer: str) -> IdpMetadata:
        try:
            idp = parse_idp_metadata(xml)
        except MetadataError as exc:
            raise _invalid(pointer, str(exc)) from exc
        try:
            check_url_shape(idp.sso_url, allow_private=self.settings.lti_allow_private)
        except UnsafeUrl as exc:
            raise _invalid(pointer, f"the IdP's single sign-on URL is unusable: {exc}") from exc
        return idp

    async def put(self, data: SamlConnectionIn) -> SamlConnectionOut:
        if data.idp_metadata_url is not None and data.idp_metadata_xml is not None:
            raise _invalid("#/idp_metadata_url", "give either idp_metadata_url or idp_metadata_xml, not both")
        domains = _domains(data.allowed_domains)
        metadata_url: str | None = None
        metadata_xml: str | None = None
        if data.idp_metadata_url is not None:  # fetched before the transaction: no row lock held over the network
            metadata_url = data.idp_metadata_url.strip()
            metadata_xml = await self._fetch(metadata_url)
            idp = self._check_metadata(metadata_xml, "#/idp_metadata_url")
        elif data.idp_metadata_xml is not None:
            metadata_url, metadata_xml = "", data.idp_metadata_xml
            idp = self._check_metadata(metadata_xml, "#/idp_metadata_xml")
        async with self._tx() as session:
            slug = await self._slug(session)
            row = await self._row(session, lock=True)
            before = snapshot(row) if row is not None else None
            if row is None:
                if metadata_xml is None:
                    raise _invalid("#/idp_metadata_xml", "the first setup needs idp_metadata_url or idp_metadata_xml")
                row = SsoConnection(org_id=self.principal.org_id, protocol="saml", extra={})
                session.add(row)
            extra = dict(row.extra or {})
            if metadata_xml is not None and metadata_url is not None:
                row.idp_metadata_url = metadata_url
                row.idp_metadata_xml = metadata_xml
                extra["idp_entity_id"] = idp.entity_id
            row.display_name = data.display_name.strip() or "SAML"
            row.enabled = data.enabled
            row.allowed_domains = domains
            row.role_claim = data.role_claim.strip()
            row.role_mapping = {key.strip(): value for key, value in data.role_mapping.items() if key.strip()}
            row.default_role = data.default_role
            for name in EXTRA_FIELDS:
                value = getattr(data, name)
                extra[name] = value.strip() if isinstance(value, str) else value
            row.extra = extra  # a new dict: JSONB changes are tracked by value
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="sso.saml.updated" if before is not None else "sso.saml.created",
                entity_type="sso_connection",
                entity_id=row.id,
                before=before,
                after=snapshot(row),
                request_id=self.request_id,
            )
            await session.refresh(row)
            return self._out(slug, row)

    async def delete(self) -> None:
        async with self._tx() as session:
            row = await self._row(session, lock=True)
            if row is None:
                raise NotFound("This organization has no SAML connection")
            before = snapshot(row)
            await session.delete(row)  # its identities go with it (ON DELETE CASCADE); the users stay
            record_audit_by(
                session,
                self.principal,
                action="sso.saml.deleted",
                entity_type="sso_connection",
                entity_id=row.id,
                before=before,
                request_id=self.request_id,
            )
