"""Helpers of the issuer tests: a fresh org (made by the owner role, as the seed does), direct database
access as the application role, and a credential row to revoke."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.engine import Database, create_engine, owner_url


async def owner_execute(settings: Settings, statement: str, params: dict[str, Any] | None = None) -> Any:
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params or {})
            return result.all() if result.returns_rows else None
    finally:
        await engine.dispose()


async def fresh_org(settings: Settings, name: str = "Fresh Academy") -> tuple[uuid.UUID, str]:
    """A new organisation with no issuer key, profile or status list yet."""
    org_id = uuid.uuid4()
    slug = f"fresh-{org_id.hex[:10]}"
    now = datetime.now(UTC)
    await owner_execute(
        settings,
        "insert into organizations (id, slug, name, settings, created_at, updated_at) "
        "values (:id, :slug, :name, '{}'::jsonb, :now, :now)",
        {"id": org_id, "slug": slug, "name": name, "now": now},
    )
    return org_id, slug


@asynccontextmanager
async def tenant(settings: Settings, org_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    db = Database.from_settings(settings)
    try:
        async with db.transaction(org_id) as session:
            yield session
    finally:
        await db.dispose()


async def org_of(settings: Settings, slug: str) -> uuid.UUID:
    rows = await owner_execute(settings, "select id from organizations where slug = :slug", {"slug": slug})
    return uuid.UUID(str(rows[0][0]))


async def learner_and_course(settings: Settings, slug: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The org's seeded learner and one of its courses."""
    rows = await owner_execute(
        settings,
        "select m.user_id, c.id from memberships m join organizations o on o.id = m.org_id "
        "join users u on u.id = m.user_id join courses c on c.org_id = o.id "
        "where o.slug = :slug and m.role = 'learner' "
        # The seeded learner (learner@<org>.test), not one of the learners other tests create.
        "order by u.email = 'learner@' || o.slug || '.test' desc, c.slug limit 1",
        {"slug": slug},
    )
    return uuid.UUID(str(rows[0][0])), uuid.UUID(str(rows[0][1]))


async def sign_test_credential(
    settings: Settings,
    slug: str,
    *,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> tuple[uuid.UUID, dict[str, Any], str]:
    """A credential signed (both proofs) with the org's active key through the issuer services, stored with
    its status entry like issuance stores one: (id, the credential with its proof, the VC-JWT)."""
    from app.db.models import Credential
    from app.domain.credentials.issuer import issuer_identity, signing_key
    from app.domain.credentials.status import allocate_status_entry
    from app.lib.vc.credential import build_credential, identity_object
    from app.lib.vc.integrity import add_proof
    from app.lib.vc.vcjwt import sign_jwt

    org_id = await org_of(settings, slug)
    user_id, course_id = await learner_and_course(settings, slug)
    credential_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with tenant(settings, org_id) as session:
        identity = await issuer_identity(session, settings, org_id)
        key = await signing_key(session, settings, org_id)
        entry = await allocate_status_entry(session, settings, org_id)
        unsigned = build_credential(
            credential_id=f"{settings.base_url}/credentials/{credential_id}",
            issuer=identity.profile,
            achievement={
                "id": f"{settings.base_url}/orgs/{slug}/achievements/issuer-test",
                "type": ["Achievement"],
                "name": "Issuer test",
                "description": "Signed by the issuer tests.",
                "criteria": {"narrative": "Run the issuer tests."},
            },
            subject_id=f"urn:uuid:{uuid.uuid5(org_id, str(user_id))}",
            identity=identity_object("learner@example.test", "0a1b2c3d"),
            valid_from=valid_from or now,
            valid_until=valid_until,
            status_entry=entry.entry,
        )
        document = add_proof(unsigned, key, now)
        token = sign_jwt(unsigned, key)
        session.add(
            Credential(
                id=credential_id,
                org_id=org_id,
                user_id=user_id,
                course_id=course_id,
                achievement=unsigned["credentialSubject"]["achievement"],
                document=document,
                jwt=token,
                kid=key.kid,
                subject_id=unsigned["credentialSubject"]["id"],
                status_list_id=entry.list_id,
                status_index=entry.index,
                issued_at=now,
            )
        )
    return credential_id, document, token
