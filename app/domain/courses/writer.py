"""The one writer of a course's live rows (what learners read), shared by ``lyceum seed`` (a course file)
and the browser's publish (app/domain/authoring): upsert by slug, idempotent on the content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.content.loader import course_content_hash, credential_of, tutoring_of
from app.content.schema import Course as CourseSpec
from app.db.models import (
    Assessment,
    Competency,
    Course,
    CourseModule,
    Item,
    ItemCompetency,
    ItemPrerequisite,
    ItemRequirement,
)


async def upsert(
    conn: AsyncConnection, model: Any, values: dict[str, Any], conflict: list[str], update: list[str]
) -> UUID:
    statement = insert(model).values(**values)
    statement = (
        statement.on_conflict_do_update(index_elements=conflict, set_={k: statement.excluded[k] for k in update})
        if update
        else statement.on_conflict_do_nothing(index_elements=conflict)
    )
    row_id = (await conn.execute(statement.returning(model.id))).scalar_one_or_none()
    if row_id is None:  # do-nothing conflict: fetch the existing row
        where = [getattr(model, k) == values[k] for k in conflict]
        row_id = (await conn.execute(select(model.id).where(*where))).scalar_one()
    return UUID(str(row_id))


@dataclass(frozen=True)
class WrittenCourse:
    course_id: UUID
    version: int
    content_hash: str
    written: bool  # False: the live rows already held this content (same hash), nothing was written


def live_content_hash(course: CourseSpec, base_dir: Path | None) -> str:
    """The hash stored in ``courses.content_hash``: the course's content plus its credential (an image
    file's bytes count as content too)."""
    credential = credential_of(course, base_dir)
    return hashlib.sha256(
        (course_content_hash(course) + msgspec.json.encode(credential, order="deterministic").decode()).encode()
    ).hexdigest()


async def write_course(conn: AsyncConnection, org_id: UUID, course: CourseSpec, base_dir: Path | None) -> WrittenCourse:
    """Upsert the live rows of ``course`` in ``org_id`` by slug (course, competencies, modules, items,
    assessments, then the pathway edges replaced), bumping ``courses.version``; nothing when the content hash
    is unchanged. ``base_dir`` resolves a credential image file (None: a course written in the browser).
    A new course is published at once (``is_published``); an existing one keeps its visibility."""
    credential = credential_of(course, base_dir)
    content_hash = live_content_hash(course, base_dir)
    existing = (
        await conn.execute(
            select(Course.id, Course.content_hash, Course.version).where(
                Course.org_id == org_id, Course.slug == course.slug
            )
        )
    ).first()
    if existing is not None and existing.content_hash == content_hash:
        return WrittenCourse(existing.id, existing.version, content_hash, written=False)
    version = existing.version + 1 if existing is not None else 1
    course_id = await upsert(
        conn,
        Course,
        {
            "org_id": org_id,
            "slug": course.slug,
            "title": course.title,
            "summary": course.summary,
            "description": course.description,
            "level": course.level,
            "tags": list(course.tags),
            "estimated_hours": course.estimated_hours,
            "is_published": True,
            "version": version,
            "content_hash": content_hash,
            # Hint ladders and misconceptions, for the tutor; what the course's credential says, for issuing.
            "extra": {"tutoring": tutoring_of(course), "credential": credential},
        },
        ["org_id", "slug"],
        ["title", "summary", "description", "level", "tags", "estimated_hours", "version", "content_hash", "extra"],
    )
    competency_ids = {}
    for comp in course.competencies:
        competency_ids[comp.slug] = await upsert(
            conn,
            Competency,
            {
                "org_id": org_id,
                "course_id": course_id,
                "slug": comp.slug,
                "name": comp.name,
                "description": comp.description,
                "bkt_prior": comp.bkt.prior,
                "bkt_learn": comp.bkt.learn,
                "bkt_slip": comp.bkt.slip,
                "bkt_guess": comp.bkt.guess,
            },
            ["course_id", "slug"],
            ["name", "description", "bkt_prior", "bkt_learn", "bkt_slip", "bkt_guess"],
        )
    item_ids: dict[str, UUID] = {}
    position = 0
    for m_pos, module in enumerate(course.modules):
        module_id = await upsert(
            conn,
            CourseModule,
            {
                "org_id": org_id,
                "course_id": course_id,
                "slug": module.slug,
                "title": module.title,
                "summary": module.summary,
                "position": m_pos,
            },
            ["course_id", "slug"],
            ["title", "summary", "position"],
        )
        for item in module.items:
            item_ids[item.slug] = await upsert(
                conn,
                Item,
                {
                    "org_id": org_id,
                    "course_id": course_id,
                    "module_id": module_id,
                    "slug": item.slug,
                    "kind": item.kind,
                    "title": item.title,
                    "body": item.body,
                    "bloom_level": item.bloom_level,
                    "position": position,
                    "estimated_minutes": item.estimated_minutes,
                    "solution": getattr(item, "solution", None) or "",
                },
                ["course_id", "slug"],
                ["module_id", "kind", "title", "body", "bloom_level", "position", "estimated_minutes", "solution"],
            )
            position += 1
            if item.assessment is not None:
                await _seed_assessment(conn, org_id, course_id, item_ids[item.slug], item.assessment)
    await _replace_edges(conn, org_id, course, item_ids, competency_ids)
    return WrittenCourse(course_id, version, content_hash, written=True)


async def _seed_assessment(conn: AsyncConnection, org_id: UUID, course_id: UUID, item_id: UUID, spec: Any) -> None:
    raw = msgspec.to_builtins(spec)
    await upsert(
        conn,
        Assessment,
        {
            "org_id": org_id,
            "item_id": item_id,
            "course_id": course_id,
            "kind": raw["type"],
            "graded": raw.get("graded", True),
            "pass_mark": raw.get("pass_mark", 0.7),
            "confidence_threshold": raw.get("confidence_threshold", 0.8),
            "objectives": raw.get("objectives", []),
            "spec": raw,
        },
        ["item_id"],
        ["kind", "graded", "pass_mark", "confidence_threshold", "objectives", "spec"],
    )


async def _replace_edges(
    conn: AsyncConnection, org_id: UUID, course: CourseSpec, item_ids: dict[str, UUID], competency_ids: dict[str, UUID]
) -> None:
    ids = list(item_ids.values())
    await conn.execute(delete(ItemPrerequisite).where(ItemPrerequisite.item_id.in_(ids)))
    await conn.execute(delete(ItemCompetency).where(ItemCompetency.item_id.in_(ids)))
    await conn.execute(delete(ItemRequirement).where(ItemRequirement.item_id.in_(ids)))
    edges, skills, gates = [], [], []
    for module in course.modules:
        for item in module.items:
            edges += [
                {"org_id": org_id, "item_id": item_ids[item.slug], "prerequisite_id": item_ids[p]}
                for p in item.prerequisites
            ]
            skills += [
                {"org_id": org_id, "item_id": item_ids[item.slug], "competency_id": competency_ids[c]}
                for c in item.competencies
            ]
            gates += [
                {
                    "org_id": org_id,
                    "item_id": item_ids[item.slug],
                    "competency_id": competency_ids[r.competency],
                    "mastery": r.mastery,
                }
                for r in item.requires
            ]
    if edges:
        await conn.execute(insert(ItemPrerequisite).values(edges))
    if skills:
        await conn.execute(insert(ItemCompetency).values(skills))
    if gates:
        await conn.execute(insert(ItemRequirement).values(gates))
