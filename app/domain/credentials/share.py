"""The public side of one credential (no sign-in): its share page's data and its baked badge image.

A share link knows a credential id, not its org: the definer function ``lyceum_credential_org`` (migration
0013) names the org of that one id, and the credential is then read under that org's tenant, so row-level
security applies as everywhere else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import select, text

from app.config import Settings
from app.db.engine import Database
from app.db.models import Course, Credential
from app.domain.credentials.badge import badge_svg
from app.domain.credentials.issuance import credential_url
from app.domain.credentials.learner import item_of
from app.lib.errors import NotFound
from app.lib.vc.baking import bake_svg


class SharedAchievement(msgspec.Struct):
    name: str
    description: str
    criteria: str  # the criteria narrative (Markdown)
    image: str


class SharedIssuer(msgspec.Struct):
    id: str  # the issuer's DID
    name: str
    url: str
    email: str
    image: str


class SharedCredential(msgspec.Struct):
    """What the public share page shows: what was achieved, by whom (the name the learner chose to show,
    "" when none), from which issuer, and the credential itself in both forms for anyone to verify."""

    id: UUID
    status: str
    issued_at: datetime
    revoked_at: datetime | None
    course_title: str
    recipient_name: str
    achievement: SharedAchievement
    issuer: SharedIssuer
    credential: dict[str, Any]
    jwt: str
    share_url: str
    linkedin_url: str


def _text(value: Any) -> str:
    if isinstance(value, dict):  # an OBv3 Image (or similar) object: its id
        return str(value.get("id", ""))
    return "" if value is None else str(value)


def parse_id(raw: str) -> UUID:
    """A credential id from a path: anything that is not a UUID is simply an unknown credential (404)."""
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound("No such credential") from None


@dataclass
class ShareService:
    db: Database
    settings: Settings

    async def _credential(self, credential_id: UUID) -> tuple[Credential, str]:
        async with self.db.transaction(None) as session:
            org_id = await session.scalar(text("select lyceum_credential_org(:id)"), {"id": credential_id})
        if org_id is None:
            raise NotFound("No such credential")
        async with self.db.transaction(org_id) as session:
            row = (
                await session.execute(
                    select(Credential, Course.title)
                    .join(Course, Course.id == Credential.course_id)
                    .where(Credential.id == credential_id)
                )
            ).one_or_none()
        if row is None:
            raise NotFound("No such credential")
        return row[0], row[1]

    async def shared(self, raw_id: str) -> SharedCredential:
        credential, title = await self._credential(parse_id(raw_id))
        item = item_of(self.settings, credential, title)
        document = credential.document or {}
        issuer = document.get("issuer") if isinstance(document.get("issuer"), dict) else {}
        issuer = issuer or {}
        achievement = credential.achievement or {}
        criteria = achievement.get("criteria")
        return SharedCredential(
            id=credential.id,
            status=credential.status,
            issued_at=credential.issued_at,
            revoked_at=credential.revoked_at,
            course_title=title,
            recipient_name=credential.display_name,
            achievement=SharedAchievement(
                name=item.achievement_name,
                description=_text(achievement.get("description")),
                criteria=_text(criteria.get("narrative") if isinstance(criteria, dict) else criteria),
                image=item.image,
            ),
            issuer=SharedIssuer(
                id=_text(issuer.get("id")),
                name=_text(issuer.get("name")),
                url=_text(issuer.get("url")),
                email=_text(issuer.get("email")),
                image=_text(issuer.get("image")),
            ),
            credential=document,
            jwt=credential.jwt,
            share_url=credential_url(self.settings, credential.id),
            linkedin_url=item.linkedin_url,
        )

    async def badge(self, raw_id: str) -> str:
        """The badge as an OBv3-baked SVG: the signed credential inside the image."""
        credential, title = await self._credential(parse_id(raw_id))
        issuer = (credential.document or {}).get("issuer")
        issuer_name = _text(issuer.get("name")) if isinstance(issuer, dict) else ""
        return bake_svg(badge_svg(title, issuer_name), credential=credential.document)
