"""``lyceum erase user <email>``: the operator's erasure, for a person who cannot ask for it themselves.

``POST /v1/me/erasure`` needs the person signed in; an org admin's ``POST /v1/admin/users/{id}/erasure``
refuses a person who also belongs to another org (one org may not erase what another holds). A person who
has lost access to every account and writes to the operator, or an institution's data-protection officer
acting on a verified request, needs a third way: this one, run by whoever holds the database owner's
credentials (DATABASE_URL, like ``lyceum migrate`` and ``lyceum archive org``).

It is the same erasure as the others (``ErasureService``: each org in its own RLS transaction, a redaction
event and an audit entry per org, then the pseudonymised ``users`` row, files and logins), in every org the
person belongs to. Only the lookup runs as the owner: an email is global, memberships are not readable
across orgs by the application role. The audit entries name the person as the actor and ``operator`` as
the request: the operator acts on the person's behalf, and no operator account exists inside an org.
Refusals are the same as an admin's (the last active admin of an org is never erased)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import text

from app.config import Settings
from app.db.engine import Database, create_engine, owner_url
from app.domain.auth.revocation import build_denylist
from app.domain.dataprivacy.erasure import ErasureService
from app.domain.dataprivacy.schemas import ErasureSummary
from app.lib.objectstore import LocalObjectStore
from app.lib.ratelimit import TokenBucketLimiter
from app.lib.redis import create_redis

OPERATOR_REQUEST_ID = "operator"  # audit_log.request_id of an operator's erasure


async def find_person(settings: Settings, email: str) -> tuple[UUID, list[UUID]]:
    """The user id of ``email`` and the orgs they belong to, read as the owner.
    LookupError when nobody has that email, or when they belong to no org (already erased with their org)."""
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            user_id = await conn.scalar(
                text("select id from users where lower(email) = lower(:e)"), {"e": email.strip()}
            )
            if user_id is None:
                raise LookupError(f"nobody has the email {email!r}")
            orgs = list(
                await conn.scalars(
                    text("select distinct org_id from memberships where user_id = :u order by org_id"),
                    {"u": user_id},
                )
            )
    finally:
        await engine.dispose()
    if not orgs:
        raise LookupError(f"{email!r} belongs to no organisation: there is nothing left to erase")
    return user_id, orgs


async def erase_person(settings: Settings, email: str) -> ErasureSummary:
    """Erase the person with ``email`` in every org they belong to. LookupError as ``find_person``;
    ``ErasureRefused`` (nothing changed) when they are the last active admin of one of their orgs."""
    user_id, orgs = await find_person(settings, email)
    db = Database.from_settings(settings)
    redis = create_redis(settings.redis_url, role="limiter")
    try:
        service = ErasureService(
            db=db,
            settings=settings,
            objects=LocalObjectStore(settings.objects_path),
            denylist=build_denylist(settings, redis, db),
            limiter=TokenBucketLimiter(redis, settings.redis_key_prefix),
            request_id=OPERATOR_REQUEST_ID,
        )
        return await service.erase_on_behalf_of(user_id, orgs)
    finally:
        await redis.aclose()
        await db.dispose()
