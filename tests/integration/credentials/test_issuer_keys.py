"""Issuer keys and status entries (issue 13 §1, §3): the key is generated once even under concurrent first
use and stored sealed; status entries are random free slots, unique, counted, and a full list opens the next."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import func, select

from app.config import Settings
from app.db.models import Credential, IssuerKey, StatusList
from app.domain.credentials.issuer import (
    issuer_identity,
    key_aad,
    rotate_key,
    signing_key,
)
from app.domain.credentials.status import allocate_status_entry
from app.lib.sealing import key_encryption_key
from app.lib.vc.keys import open_private_key, public_key_from_jwk
from tests.integration.credentials.issuer_helpers import (
    fresh_org,
    learner_and_course,
    org_of,
    owner_execute,
    tenant,
)
from tests.support.stack import make_settings


def test_kek_is_32_bytes_from_the_secret_or_the_setting(settings: Settings, tmp_path: object) -> None:
    derived = key_encryption_key(settings)
    assert len(derived) == 32
    assert derived == key_encryption_key(settings)
    explicit = base64.b64encode(bytes(range(32))).decode()
    configured = make_settings(
        settings.database_url, settings.redis_url, "x:", settings.data_dir, LYCEUM_CREDENTIALS_KEK=explicit
    )
    assert key_encryption_key(configured) == bytes(range(32))


async def test_first_use_under_concurrency_makes_one_key(settings: Settings, seeded: object) -> None:
    org_id, slug = await fresh_org(settings)

    async def first_use() -> str:
        async with tenant(settings, org_id) as session:
            return (await signing_key(session, settings, org_id)).kid

    kids = await asyncio.gather(*(first_use() for _ in range(8)))
    assert len(set(kids)) == 1
    kid = kids[0]
    async with tenant(settings, org_id) as session:
        identity = await issuer_identity(session, settings, org_id)
        rows = list(await session.scalars(select(IssuerKey).where(IssuerKey.org_id == org_id)))
    assert [row.kid for row in rows] == [kid]
    assert rows[0].active
    assert kid.startswith(identity.did + "#key-")
    assert identity.did.endswith(f":orgs:{slug}")
    # The default profile is the org's name.
    assert identity.profile == {"id": identity.did, "type": ["Profile"], "name": "Fresh Academy"}


async def test_private_key_is_sealed_and_bound_to_its_row(settings: Settings, seeded: object) -> None:
    org_id, _ = await fresh_org(settings)
    async with tenant(settings, org_id) as session:
        key = await signing_key(session, settings, org_id)
        row = await session.scalar(select(IssuerKey).where(IssuerKey.kid == key.kid))
    assert row is not None
    raw = key.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    sealed = bytes(row.private_key_sealed)
    assert raw not in sealed
    assert "d" not in row.public_jwk
    assert set(row.public_jwk) == {"kty", "crv", "x", "alg", "use", "kid"}
    assert public_key_from_jwk(row.public_jwk).public_bytes_raw() == key.private_key.public_key().public_bytes_raw()
    kek = key_encryption_key(settings)
    assert open_private_key(sealed, kek, key_aad(org_id, key.kid)).private_bytes_raw() == raw
    with pytest.raises(ValueError, match="does not open"):
        open_private_key(sealed, kek, key_aad(uuid.uuid4(), key.kid))  # copied onto another org: does not open
    with pytest.raises(ValueError, match="does not open"):
        open_private_key(sealed, bytes(32), key_aad(org_id, key.kid))


async def test_rotation_retires_and_signs_with_the_next(settings: Settings, seeded: object) -> None:
    org_id, _ = await fresh_org(settings)
    async with tenant(settings, org_id) as session:
        first = await signing_key(session, settings, org_id)
    async with tenant(settings, org_id) as session:
        old, new = await rotate_key(session, settings, org_id)
    assert old == first.kid
    assert new != first.kid
    async with tenant(settings, org_id) as session:
        assert (await signing_key(session, settings, org_id)).kid == new
        rows = {row.kid: row for row in await session.scalars(select(IssuerKey).where(IssuerKey.org_id == org_id))}
    assert not rows[old].active
    assert rows[old].retired_at is not None
    assert rows[new].active
    assert rows[new].retired_at is None


async def test_status_entries_are_random_unique_and_counted(settings: Settings, seeded: object) -> None:
    org_id = await org_of(settings, "demo")
    user_id, course_id = await learner_and_course(settings, "demo")

    async def issue() -> tuple[uuid.UUID, int, dict[str, str]]:
        async with tenant(settings, org_id) as session:
            entry = await allocate_status_entry(session, settings, org_id)
            session.add(
                Credential(
                    org_id=org_id,
                    user_id=user_id,
                    course_id=course_id,
                    issued_at=datetime.now(UTC),
                    status_list_id=entry.list_id,
                    status_index=entry.index,
                )
            )
            return entry.list_id, entry.index, entry.entry

    async with tenant(settings, org_id) as session:
        before = await session.scalar(select(func.coalesce(func.sum(StatusList.allocated), 0)))
    results = await asyncio.gather(*(issue() for _ in range(12)))
    indices = [index for _, index, _ in results]
    assert len(set(indices)) == len(indices)
    assert sorted(indices) != list(range(min(indices), min(indices) + len(indices)))  # not handed out in order
    list_id, index, entry = results[0]
    url = f"{settings.base_url}/orgs/demo/credentials/status/{list_id}"
    assert entry == {
        "id": f"{url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(index),
        "statusListCredential": url,
    }
    async with tenant(settings, org_id) as session:
        after = await session.scalar(select(func.coalesce(func.sum(StatusList.allocated), 0)))
    assert (after or 0) - (before or 0) == 12


async def test_a_full_list_opens_the_next(settings: Settings, seeded: object) -> None:
    org_id, _ = await fresh_org(settings)
    async with tenant(settings, org_id) as session:
        first = await allocate_status_entry(session, settings, org_id)
    size = settings.credentials_status_list_size
    await owner_execute(
        settings, "update status_lists set allocated = :n where id = :id", {"n": size - 1, "id": first.list_id}
    )
    async with tenant(settings, org_id) as session:
        last = await allocate_status_entry(session, settings, org_id)
        following = await allocate_status_entry(session, settings, org_id)
    assert last.list_id == first.list_id
    assert following.list_id != first.list_id
    async with tenant(settings, org_id) as session:
        lists = {row.id: row for row in await session.scalars(select(StatusList).where(StatusList.org_id == org_id))}
    assert lists[first.list_id].allocated == size
    assert lists[following.list_id].allocated == 1
    assert lists[following.list_id].size == size
    assert lists[following.list_id].document == {}


async def test_rotation_racing_a_first_use_leaves_one_active_key(settings: Settings, seeded: object) -> None:
    org_id, _ = await fresh_org(settings)

    async def first_use() -> str:
        async with tenant(settings, org_id) as session:
            return (await signing_key(session, settings, org_id)).kid

    async def rotate() -> str:
        async with tenant(settings, org_id) as session:
            return (await rotate_key(session, settings, org_id))[1]

    await asyncio.gather(first_use(), rotate(), first_use(), rotate())
    async with tenant(settings, org_id) as session:
        rows = list(await session.scalars(select(IssuerKey).where(IssuerKey.org_id == org_id)))
        active = await signing_key(session, settings, org_id)
    assert [row.kid for row in rows if row.active] == [active.kid]
    assert all(row.retired_at is not None for row in rows if not row.active)
