"""Revocation status lists (W3C Bitstring Status List): entries for new credentials, and the signed list.

Privacy: a credential's index is drawn at random among the list's free slots, so neighbouring indices say
nothing about issue order or cohort. The bits are not stored separately: bit ``i`` of a list is set when
the credential holding ``(status_list_id, i)`` is revoked. ``document`` keeps the last signed list
credential; it is signed lazily (``{}`` until first published) and again on every revocation.
Every function runs in the caller's transaction, scoped to ``org_id``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Credential, StatusList
from app.domain.credentials.issuer import issuer_identity, signing_key
from app.lib.vc.integrity import add_proof, proof_of
from app.lib.vc.statuslist import Bitstring, status_entry, status_list_credential

PURPOSE = "revocation"
PROBES = 16  # random candidates tried per round before falling back to a scan of the free slots
PROBE_ROUNDS = 4


@dataclass(frozen=True)
class StatusEntry:
    """A slot handed to a new credential: its list, its index and the ``credentialStatus`` object."""

    list_id: UUID
    index: int
    entry: dict[str, Any]


def status_list_url(settings: Settings, slug: str, list_id: UUID) -> str:
    return f"{settings.base_url}/orgs/{slug}/credentials/status/{list_id}"


async def _lock_allocation(session: AsyncSession, org_id: UUID) -> None:
    # One allocation per org at a time until the allocating transaction ends: the ``allocated`` counter and
    # the choice of a free slot stay consistent, and two first issuances cannot open two lists.
    await session.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"lyceum:status_lists:{org_id}"}
    )


async def _current_list(session: AsyncSession, settings: Settings, org_id: UUID) -> StatusList:
    current = await session.scalar(
        select(StatusList)
        .where(StatusList.org_id == org_id, StatusList.purpose == PURPOSE, StatusList.allocated < StatusList.size)
        .order_by(StatusList.created_at, StatusList.id)
        .limit(1)
    )
    if current is None:  # none yet, or every list is full: open the next one
        current = StatusList(
            org_id=org_id,
            purpose=PURPOSE,
            size=settings.credentials_status_list_size,
            allocated=0,
            document={},
            etag="",
            signed_at=None,
        )
        session.add(current)
        await session.flush()
    return current


async def _taken(session: AsyncSession, list_id: UUID, candidates: list[int]) -> set[int]:
    rows = await session.scalars(
        select(Credential.status_index).where(
            Credential.status_list_id == list_id, Credential.status_index.in_(candidates)
        )
    )
    return {int(i) for i in rows if i is not None}


async def _free_index(session: AsyncSession, status_list: StatusList) -> int:
    for _ in range(PROBE_ROUNDS):
        candidates = list({secrets.randbelow(status_list.size) for _ in range(PROBES)})
        taken = await _taken(session, status_list.id, candidates)
        free = [i for i in candidates if i not in taken]
        if free:
            return secrets.choice(free)
    # Nearly full: pick uniformly among the free slots the database lists.
    free_count = status_list.size - status_list.allocated
    index = await session.scalar(
        text(
            "select i from generate_series(0, :size - 1) as i where not exists "
            "(select 1 from credentials c where c.status_list_id = :list and c.status_index = i) "
            "offset :skip limit 1"
        ),
        {"size": status_list.size, "list": status_list.id, "skip": secrets.randbelow(max(free_count, 1))},
    )
    if index is None:  # the counter and the rows disagree (rows deleted): take the first free one
        index = await session.scalar(
            text(
                "select i from generate_series(0, :size - 1) as i where not exists "
                "(select 1 from credentials c where c.status_list_id = :list and c.status_index = i) limit 1"
            ),
            {"size": status_list.size, "list": status_list.id},
        )
    if index is None:
        raise RuntimeError("status list has no free slot although allocated < size")
    return int(index)


async def allocate_status_entry(session: AsyncSession, settings: Settings, org_id: UUID) -> StatusEntry:
    """A random free slot in the org's current revocation list (a new list when it is full).

    The caller inserts the credential with ``(status_list_id, status_index)`` in the same transaction;
    the unique constraint on that pair is the last guard against a double allocation."""
    await _lock_allocation(session, org_id)
    status_list = await _current_list(session, settings, org_id)
    index = await _free_index(session, status_list)
    status_list.allocated += 1
    await session.flush()
    identity = await issuer_identity(session, settings, org_id)
    url = status_list_url(settings, identity.slug, status_list.id)
    return StatusEntry(list_id=status_list.id, index=index, entry=status_entry(url, index))


def _etag(document: dict[str, Any]) -> str:
    return '"' + hashlib.sha256(msgspec.json.encode(document)).hexdigest()[:32] + '"'


async def revoked_indices(session: AsyncSession, list_id: UUID) -> list[int]:
    rows = await session.scalars(
        select(Credential.status_index).where(
            Credential.status_list_id == list_id, Credential.status == "revoked", Credential.status_index.is_not(None)
        )
    )
    return [int(i) for i in rows if i is not None]


async def sign_status_list(session: AsyncSession, settings: Settings, status_list: StatusList) -> None:
    """Build the list credential from the revoked credentials' indices, sign it with the active key
    (eddsa-rdfc-2022) and store it with a new ETag. The caller holds the list row locked."""
    org_id = status_list.org_id
    identity = await issuer_identity(session, settings, org_id)
    key = await signing_key(session, settings, org_id)
    bits = Bitstring(status_list.size, await revoked_indices(session, status_list.id))
    now = datetime.now(UTC)
    unsigned = status_list_credential(
        status_list_url(settings, identity.slug, status_list.id), {"id": identity.did}, bits, now
    )
    document = add_proof(unsigned, key, now)
    status_list.document = document
    status_list.etag = _etag(document)
    status_list.signed_at = now
    await session.flush()


async def lock_status_list(session: AsyncSession, list_id: UUID) -> StatusList | None:
    return await session.scalar(
        select(StatusList).where(StatusList.id == list_id).with_for_update().execution_options(populate_existing=True)
    )


async def published_status_list(session: AsyncSession, settings: Settings, list_id: UUID) -> StatusList | None:
    """The list as published: signed now if it never was, or if its proof is by a key since retired."""
    status_list = await session.scalar(select(StatusList).where(StatusList.id == list_id))
    if status_list is None:
        return None
    active = await signing_key(session, settings, status_list.org_id)
    if _signed_by(status_list.document) == active.kid:
        return status_list
    status_list = await lock_status_list(session, list_id)  # re-read under the lock: a revoke may have signed
    if status_list is not None and _signed_by(status_list.document) != active.kid:
        await sign_status_list(session, settings, status_list)
    return status_list


def _signed_by(document: dict[str, Any]) -> str | None:
    proof = proof_of(document) if isinstance(document, dict) and document else None
    method = proof.get("verificationMethod") if proof is not None else None
    return method if isinstance(method, str) else None
