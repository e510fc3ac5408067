"""Deep Linking 2.0 for the web app's picker: the stored request's settings, and the signed response.

The launch (app/domain/lti/launch) stores an ``LtiDeepLinkingRequest``'s settings in Redis under
``lti:dl:<id>`` (one hour) and sends the instructor to the picker. Only that instructor (same user, same org)
may read it or answer it, and it is answered once: the response is a JWT the browser posts to the platform's
``deep_link_return_url``, so a second answer would create a second set of links in the LMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
import structlog
from redis.asyncio import Redis
from sqlalchemy import select

from app.config import Settings
from app.db.engine import Database
from app.db.models import Assessment, Course, Item, LtiPlatform
from app.domain.base import TenantService
from app.domain.lti import toolkeys
from app.lib.errors import Forbidden, NotFound, ValidationFailed
from app.lib.lti import deeplink

log = structlog.get_logger("lyceum.lti.deep_linking")

DL_TTL_SECONDS = 3600
MAX_ITEMS = 50  # a picker selection, not a bulk export


def dl_key(prefix: str, dl_id: str) -> str:
    """The Redis key of a stored deep-linking request (under the deployment's key prefix)."""
    return f"{prefix}lti:dl:{dl_id}"


class StoredRequest(msgspec.Struct):
    """``lti:dl:<id>`` as the launch writes it."""

    platform_id: UUID
    org_id: UUID
    user_id: UUID
    deployment_id: str
    return_url: str
    accept_types: list[str] = msgspec.field(default_factory=lambda: [deeplink.RESOURCE_LINK])
    accept_multiple: bool = True
    accept_lineitem: bool = True
    data: str | None = None
    title: str | None = None
    text: str | None = None


class PlatformRef(msgspec.Struct):
    id: UUID
    name: str


class DeepLinkSettings(msgspec.Struct):
    """What the picker needs: who asked, what it accepts."""

    id: str
    platform: PlatformRef
    accept_types: list[str]
    accept_multiple: bool
    accept_lineitem: bool
    accepts_resource_links: bool  # false: nothing Lyceum offers can be returned (the picker says so)
    title: str | None


class PickedItem(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["course", "item"]
    id: UUID


class DeepLinkResponseIn(msgspec.Struct, forbid_unknown_fields=True):
    items: Annotated[list[PickedItem], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class DeepLinkResponseOut(msgspec.Struct):
    """The page auto-submits ``JWT=<jwt>`` in a form posted to ``return_url``."""

    return_url: str
    jwt: str


@dataclass(eq=False, repr=False, kw_only=True)
class DeepLinkingService(TenantService):
    settings: Settings
    redis: Redis
    root_db: Database  # the tool key lives outside every tenant

    def _key(self, dl_id: str) -> str:
        return dl_key(self.settings.redis_key_prefix, dl_id)

    async def _load(self, dl_id: str) -> StoredRequest:
        if not dl_id or len(dl_id) > 200:
            raise NotFound("No such deep-linking request")
        raw = await self.redis.get(self._key(dl_id))
        if raw is None:
            raise NotFound("This deep-linking request has expired or was already answered: start again from the LMS")
        try:
            stored = msgspec.json.decode(raw, type=StoredRequest)
        except msgspec.DecodeError as exc:  # written by this service only; never a 500 for it
            log.warning("lti.deep_link.unreadable", dl_id=dl_id, error=str(exc))
            raise NotFound("This deep-linking request cannot be read: start again from the LMS") from exc
        # Only the instructor whose launch stored it: same org and same user (a token from another org or
        # another person of the org is refused, even a staff one).
        if stored.org_id != self.principal.org_id or stored.user_id != self.principal.user_id:
            log.info("lti.deep_link.not_yours", dl_id=dl_id, user_id=str(self.principal.user_id))
            raise Forbidden("This deep-linking request belongs to another person")
        if not self.principal.is_staff:
            raise Forbidden("Only instructors can add Lyceum content to a course")
        return stored

    async def _platform(self, platform_id: UUID) -> LtiPlatform:
        async with self._tx() as session:
            platform = await session.get(LtiPlatform, platform_id)
        if platform is None:
            raise NotFound("The LMS registration of this request no longer exists")
        return platform

    async def settings_of(self, dl_id: str) -> DeepLinkSettings:
        stored = await self._load(dl_id)
        platform = await self._platform(stored.platform_id)
        return DeepLinkSettings(
            id=dl_id,
            platform=PlatformRef(id=platform.id, name=platform.name or platform.issuer),
            accept_types=list(stored.accept_types),
            accept_multiple=stored.accept_multiple,
            accept_lineitem=stored.accept_lineitem,
            accepts_resource_links=deeplink.RESOURCE_LINK in stored.accept_types,
            title=stored.title,
        )

    async def _selections(self, picked: list[PickedItem]) -> list[deeplink.Selection]:
        """The chosen courses and items of the caller's org, in the order picked (unknown ids: 422)."""
        item_ids = [p.id for p in picked if p.kind == "item"]
        course_ids = [p.id for p in picked if p.kind == "course"]
        org = self.principal.org_id
        async with self._tx() as session:
            items = {
                row.Item.id: row
                for row in (
                    await session.execute(
                        select(Item, Course.title.label("course_title"), Assessment.id.label("assessment_id"))
                        .join(Course, Course.id == Item.course_id)
                        .outerjoin(Assessment, Assessment.item_id == Item.id)
                        .where(Item.id.in_(item_ids), Item.org_id == org)
                    )
                    if item_ids
                    else []
                )
            }
            courses: dict[UUID, Course] = {}
            if course_ids:
                query = select(Course).where(Course.id.in_(course_ids), Course.org_id == org)
                courses = {c.id: c for c in await session.scalars(query)}
        selections: list[deeplink.Selection] = []
        missing: list[dict[str, Any]] = []
        for index, p in enumerate(picked):
            if p.kind == "item" and p.id in items:
                row = items[p.id]
                item: Item = row.Item
                assessment = row.assessment_id is not None or item.kind == "assessment"
                selections.append(
                    deeplink.Selection(
                        kind="item",
                        id=str(item.id),
                        title=item.title,
                        text=f"{item.kind.capitalize()} in {row.course_title}",
                        assessment=assessment,
                    )
                )
            elif p.kind == "course" and p.id in courses:
                course = courses[p.id]
                selections.append(
                    deeplink.Selection(kind="course", id=str(course.id), title=course.title, text=course.summary)
                )
            else:
                missing.append({"pointer": f"#/items/{index}/id", "detail": f"no such {p.kind} in your organisation"})
        if missing:
            raise ValidationFailed("Some of the chosen content does not exist", errors=missing)
        return selections

    async def respond(self, dl_id: str, data: DeepLinkResponseIn) -> DeepLinkResponseOut:
        stored = await self._load(dl_id)
        if len({(p.kind, p.id) for p in data.items}) != len(data.items):
            raise ValidationFailed("The same course or item is chosen twice")
        platform = await self._platform(stored.platform_id)
        request = deeplink.DeepLinkRequest(
            issuer=platform.issuer,
            client_id=platform.client_id,
            deployment_id=stored.deployment_id,
            return_url=stored.return_url,
            accept_types=tuple(stored.accept_types),
            accept_multiple=stored.accept_multiple,
            accept_lineitem=stored.accept_lineitem,
            data=stored.data,
        )
        selections = await self._selections(data.items)
        try:
            claims = deeplink.response_claims(request, selections, launch_url=f"{self.settings.base_url}/lti/launch")
        except deeplink.DeepLinkRefused as exc:
            log.info("lti.deep_link.refused", dl_id=dl_id, reason=str(exc))
            raise ValidationFailed(str(exc)) from exc
        # Answer once: whoever deletes the key first signs; a concurrent or repeated answer is refused.
        if not await self.redis.delete(self._key(dl_id)):
            raise NotFound("This deep-linking request was already answered: start again from the LMS")
        async with self.root_db.transaction(None) as session:
            key = await toolkeys.active_key(session, self.settings)
        token = deeplink.sign(claims, key.jwk())
        log.info(
            "lti.deep_link.answered",
            dl_id=dl_id,
            platform_id=str(platform.id),
            items=[s.id for s in selections],
        )
        return DeepLinkResponseOut(return_url=stored.return_url, jwt=token)


def encode_stored(stored: StoredRequest) -> bytes:
    """For the launch (and tests): the JSON stored under ``lti:dl:<id>``."""
    return msgspec.json.encode(stored)
