"""An org admin's OIDC connection (``/v1/admin/sso/oidc``) and the "SSO required" switch
(``/v1/admin/sso/settings``). Every change is audited; the client secret is write-only and sealed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Organization, SsoConnection
from app.domain.audit.services import record_audit_by
from app.domain.base import TenantService
from app.domain.sso.oidc import callback_url, login_path, secret_aad
from app.domain.sso.oidc_http import OidcMetadata, ProviderUnavailable, check_issuer_url
from app.domain.sso.schemas import OidcConnectionIn, OidcConnectionOut, SsoSettings
from app.lib.errors import Conflict, NotFound, ValidationFailed
from app.lib.sealing import key_encryption_key, seal


def _domains(values: list[str]) -> list[str]:
    return sorted({v.strip().lower().lstrip("@") for v in values if v.strip()})


def _summary(row: SsoConnection) -> dict[str, Any]:
    """What the audit log keeps of a connection (never the secret, only whether there is one)."""
    return {
        "display_name": row.display_name,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "has_client_secret": row.client_secret_sealed is not None,
        "enabled": row.enabled,
        "allowed_domains": list(row.allowed_domains or []),
        "role_claim": row.role_claim,
        "role_mapping": dict(row.role_mapping or {}),
        "default_role": row.default_role,
        "scopes": list((row.extra or {}).get("scopes", [])),
    }


@dataclass(eq=False, repr=False, kw_only=True)
class SsoAdminService(TenantService):
    settings: Settings
    metadata: OidcMetadata

    async def _org_slug(self, session: AsyncSession) -> str:
        slug = await session.scalar(select(Organization.slug).where(Organization.id == self.principal.org_id))
        return str(slug)

    def _out(self, row: SsoConnection, slug: str) -> OidcConnectionOut:
        return OidcConnectionOut(
            id=row.id,
            display_name=row.display_name,
            issuer=row.issuer,
            client_id=row.client_id,
            has_client_secret=row.client_secret_sealed is not None,
            enabled=row.enabled,
            allowed_domains=list(row.allowed_domains or []),
            role_claim=row.role_claim,
            role_mapping=dict(row.role_mapping or {}),
            default_role=row.default_role,
            scopes=list((row.extra or {}).get("scopes", [])),
            redirect_uri=callback_url(self.settings, slug),
            login_url=login_path(slug),
            updated_at=row.updated_at,
        )

    async def _row(self, session: AsyncSession) -> SsoConnection | None:
        return await session.scalar(select(SsoConnection).where(SsoConnection.protocol == "oidc"))

    async def get_oidc(self) -> OidcConnectionOut:
        async with self._tx() as session:
            row = await self._row(session)
            if row is None:
                raise NotFound("This organization has no OIDC connection yet")
            return self._out(row, await self._org_slug(session))

    async def put_oidc(self, data: OidcConnectionIn) -> OidcConnectionOut:
        issuer = data.issuer.strip()
        try:
            check_issuer_url(issuer, self.settings)
            # Saving checks the provider at once: a typo is reported now, not at the first sign-in.
            await self.metadata.discovery(issuer, fresh=True)
        except ProviderUnavailable as exc:
            raise ValidationFailed(
                f"The issuer could not be used: {exc.detail}",
                errors=[{"pointer": "#/issuer", "detail": exc.detail}],
            ) from exc
        scopes = list(dict.fromkeys(["openid", *data.scopes]))
        async with self._tx() as session:
            row = await self._row(session)
            before = _summary(row) if row is not None else None
            if row is None:
                row = SsoConnection(id=uuid.uuid4(), org_id=self.principal.org_id, protocol="oidc")
                session.add(row)
            row.display_name = data.display_name.strip()
            row.issuer = issuer
            row.client_id = data.client_id.strip()
            row.enabled = data.enabled
            row.allowed_domains = _domains(data.allowed_domains)
            row.role_claim = data.role_claim.strip()
            row.role_mapping = {k.strip(): v for k, v in data.role_mapping.items() if k.strip()}
            row.default_role = data.default_role
            row.extra = {**(row.extra or {}), "scopes": scopes}
            if data.client_secret == "":
                row.client_secret_sealed = None
            elif data.client_secret is not None:
                row.client_secret_sealed = seal(
                    data.client_secret.encode(), key_encryption_key(self.settings), secret_aad(row.id)
                )
            row.updated_at = datetime.now(UTC)
            await session.flush()
            record_audit_by(
                session,
                self.principal,
                action="sso.oidc_created" if before is None else "sso.oidc_updated",
                entity_type="sso_connection",
                entity_id=row.id,
                before=before,
                after={**_summary(row), "client_secret_changed": data.client_secret is not None},
                request_id=self.request_id,
            )
            await session.refresh(row)
            return self._out(row, await self._org_slug(session))

    async def delete_oidc(self) -> None:
        async with self._tx() as session:
            row = await self._row(session)
            if row is None:
                raise NotFound("This organization has no OIDC connection")
            record_audit_by(
                session,
                self.principal,
                action="sso.oidc_deleted",
                entity_type="sso_connection",
                entity_id=row.id,
                before=_summary(row),
                request_id=self.request_id,
            )
            await session.delete(row)

    async def get_settings(self) -> SsoSettings:
        async with self._tx() as session:
            required = await session.scalar(
                select(Organization.sso_required).where(Organization.id == self.principal.org_id)
            )
        return SsoSettings(sso_required=bool(required))

    async def put_settings(self, data: SsoSettings) -> SsoSettings:
        async with self._tx() as session:
            org = await session.get(Organization, self.principal.org_id, with_for_update=True)
            if org is None:
                raise NotFound("Organization not found")
            if data.sso_required and not org.sso_required:
                enabled = await session.scalar(select(SsoConnection.id).where(SsoConnection.enabled.is_(True)).limit(1))
                if enabled is None:
                    raise Conflict(
                        "Set up and turn on a single sign-on connection before requiring it: members would have no "
                        "way to sign in"
                    )
            before = {"sso_required": org.sso_required}
            org.sso_required = data.sso_required
            record_audit_by(
                session,
                self.principal,
                action="sso.settings_updated",
                entity_type="organization",
                entity_id=org.id,
                before=before,
                after={"sso_required": data.sso_required},
                request_id=self.request_id,
            )
        return SsoSettings(sso_required=data.sso_required)
