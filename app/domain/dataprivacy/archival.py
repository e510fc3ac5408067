"""``lyceum archive org <slug> --out <file.jsonl.gz>``: the operator's way to delete an organization.

Deleting an org cascades into ``progress_events``, ``audit_log`` and ``redaction_events`` (append-only) and
``course_versions`` (immutable), whose ``lyceum_refuse_change()`` triggers refuse it. This runs as the
database owner (DATABASE_URL, like ``lyceum migrate``) and, in one transaction:

1. records the transaction in ``lyceum_archival_grants`` (owner-only; the triggers let this transaction pass,
   migration 0026);
2. writes those tables' rows of the org to a gzipped JSON Lines archive (a header line, then one
   ``{"table": ..., "row": {...}}`` per row), flushed to disk before anything is deleted;
3. deletes the organization (everything org-scoped cascades) and pseudonymises the users who belonged to no
   other org (the same pseudonymisation as an erasure; ``users`` rows are global and referenced elsewhere);
4. removes the grant and commits. Then the org's transcript and export files are deleted.

The archive holds personal data (the audit log's before/after, progress events): store it like a backup."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from app.config import Settings
from app.db.engine import create_engine, owner_url
from app.domain.dataprivacy.erasure import ERASED_NAME, erased_email
from app.domain.dataprivacy.objects import delete_objects
from app.lib.objectstore import LocalObjectStore

ARCHIVED_TABLES = ("progress_events", "audit_log", "redaction_events", "course_versions")


@dataclass
class ArchiveReport:
    org_id: str
    slug: str
    rows: dict[str, int] = field(default_factory=dict)
    users_pseudonymised: int = 0
    files_deleted: int = 0


def _write(out: Path, header: dict[str, Any], tables: dict[str, list[str]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(header, sort_keys=True) + "\n")
        for table, rows in tables.items():
            for row in rows:
                handle.write('{"table": ' + json.dumps(table) + ', "row": ' + row + "}\n")
        handle.flush()
    with partial.open("rb") as raw:
        os.fsync(raw.fileno())
    partial.replace(out)


async def archive_org(settings: Settings, slug: str, out: Path) -> ArchiveReport:
    """Archive and delete the org ``slug``; LookupError when there is none."""
    engine = create_engine(owner_url(settings.database_url), pool_size=1)
    keys: list[str] = []
    try:
        async with engine.begin() as conn:
            org = (
                await conn.execute(
                    text("select id, slug, name from organizations where slug = :s for update"), {"s": slug}
                )
            ).first()
            if org is None:
                raise LookupError(f"no organisation {slug!r}")
            report = ArchiveReport(org_id=str(org.id), slug=org.slug)
            await conn.execute(text("insert into lyceum_archival_grants (xact) values (txid_current())"))
            tables: dict[str, list[str]] = {}
            for table in ARCHIVED_TABLES:
                rows = await conn.scalars(
                    text(f"select to_jsonb(t)::text from {table} t where t.org_id = :o order by t.created_at, t.id"),  # noqa: S608 - fixed table names
                    {"o": org.id},
                )
                tables[table] = list(rows)
                report.rows[table] = len(tables[table])
            header = {
                "archive": "lyceum-organization",
                "format": 1,
                "organization": {"id": str(org.id), "slug": org.slug, "name": org.name},
                "created_at": datetime.now(UTC).isoformat(),
                "tables": report.rows,
            }
            _write(out, header, tables)
            keys = list(
                await conn.scalars(
                    text(
                        "select distinct object_key from ai_interactions where org_id = :o "
                        "union select object_key from data_exports where org_id = :o and object_key is not null"
                    ),
                    {"o": org.id},
                )
            )
            members = list(
                await conn.scalars(text("select distinct user_id from memberships where org_id = :o"), {"o": org.id})
            )
            await conn.execute(text("delete from organizations where id = :o"), {"o": org.id})
            for user_id in members:
                changed = await conn.execute(
                    text(
                        "update users set email = :email, name = :name, password_hash = null, is_active = false, "
                        "credential_did = null, token_version = token_version + 1 "
                        "where id = :u and not exists (select 1 from memberships m where m.user_id = :u)"
                    ),
                    {"u": user_id, "email": erased_email(user_id), "name": ERASED_NAME},
                )
                report.users_pseudonymised += int(changed.rowcount or 0)
            await conn.execute(text("delete from lyceum_archival_grants where xact = txid_current()"))
    finally:
        await engine.dispose()
    report.files_deleted = await delete_objects(LocalObjectStore(settings.objects_path), keys)
    return report
