"""The made-up AI history `make dev` writes (``app/demo_history.py``): labelled, deterministic, rolled up at
once, replaced (never doubled) on a re-run. Run in a scratch org of its own (one course, one instructor),
deleted afterwards, so the demo org's figures other tests assert are untouched."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, select, text

from app.config import Settings
from app.content.loader import load_courses
from app.db.engine import Database, create_engine, owner_url
from app.db.models import Membership, Organization, User
from app.demo_history import DAYS, DEMO_LABEL, DEMO_USER_EMAIL, demo_model, seed_demo_ai_history
from app.domain.courses.writer import upsert, write_course
from app.domain.tutor.prompts import PromptRegistry

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.fixture
async def owner(settings: Settings, seeded: Any) -> AsyncIterator[Database]:
    db = Database(create_engine(owner_url(settings.database_url), pool_size=1), pool_size=1)
    yield db
    await db.dispose()


@pytest.fixture
async def scratch_org(settings: Settings, owner: Database) -> AsyncIterator[tuple[uuid.UUID, str]]:
    """An org with one course that has short-answer assessments and one instructor; deleted afterwards
    (with everything in it, by cascade), and the synthetic learner with it."""
    slug = f"scratch-{uuid.uuid4().hex[:8]}"
    course = next(
        c
        for c in load_courses(settings.content_dir / "courses")
        if any(i.assessment is not None and i.assessment.kind == "short_answer" for m in c.modules for i in m.items)
    )
    async with owner.transaction(None) as session:
        conn = await session.connection()
        org_id = await upsert(conn, Organization, {"slug": slug, "name": slug, "settings": {}}, ["slug"], [])
        person = {"email": f"{slug}@scratch.test", "name": "Scratch reviewer", "is_active": True}
        reviewer = await upsert(conn, User, person, ["email"], [])
        values = {"org_id": org_id, "user_id": reviewer, "role": "instructor"}
        await upsert(conn, Membership, values, ["org_id", "user_id", "role"], [])
        await write_course(conn, org_id, course, settings.content_dir / "courses")
    yield org_id, slug
    async with owner.transaction(None) as session:
        await session.execute(delete(Organization).where(Organization.id == org_id))
        await session.execute(delete(User).where(User.email.in_([person["email"], DEMO_USER_EMAIL])))


_RAW = text(
    "select count(*), sum(input_tokens + output_tokens), sum(cost_usd),"
    " count(*) filter (where status = 'blocked'), count(*) filter (where provider = 'offline'),"
    " count(*) filter (where jsonb_array_length(guardrail_outcomes) > 0),"
    " count(*) filter (where object_key not like 'demo-history/%' or model not like 'demo-history:%'),"
    " array_agg(distinct model order by model), array_agg(distinct prompt_version order by prompt_version),"
    " min(created_at), max(created_at)"
    " from ai_interactions where org_id = :org"
)
_ROLLUP = text(
    "select grain, sum(turns), sum(input_tokens + output_tokens), sum(cost_usd), sum(rating_count)"
    " from ai_usage_rollup where org_id = :org group by grain order by grain"
)
_GRADING = text(
    "select (select count(*) from grades where org_id = :org and graded_by = 'ai'),"
    " (select count(*) from review_items where org_id = :org and status = 'decided'),"
    " (select count(*) from review_items where org_id = :org and decision = 'override'),"
    " (select count(*) from ai_feedback where org_id = :org and source = 'human_review'),"
    " (select count(*) from ai_feedback where org_id = :org and source = 'learner_rating')"
)


async def _figures(db: Database, org_id: uuid.UUID) -> tuple[Any, list[Any], Any]:
    async with db.transaction(org_id) as session:
        raw = (await session.execute(_RAW, {"org": org_id})).one()
        rollup = list((await session.execute(_ROLLUP, {"org": org_id})).all())
        grading = (await session.execute(_GRADING, {"org": org_id})).one()
    return raw, rollup, grading


async def test_the_demo_history_is_labelled_rolled_up_and_replaced_on_a_rerun(
    settings: Settings, owner: Database, scratch_org: tuple[uuid.UUID, str]
) -> None:
    org_id, slug = scratch_org
    report = await seed_demo_ai_history(settings, slug, now=NOW)
    raw, rollup, grading = await _figures(owner, org_id)
    turns, tokens, cost, blocked, offline, guarded, unlabelled, models, versions, first, last = raw

    assert 800 <= report.interactions == turns <= 3000
    assert unlabelled == 0
    assert models == sorted(demo_model(m) for m in (settings.tutor_model, settings.tutor_fallback_model, "offline"))
    tutor_versions = [v.version for v in PromptRegistry(settings.content_dir / "prompts").file("tutor").versions]
    assert versions == sorted(tutor_versions)
    assert blocked > 0
    assert offline > 0
    assert guarded > blocked
    assert NOW - timedelta(days=DAYS + 1) <= first
    assert last < NOW
    assert cost > 0
    async with owner.transaction(org_id) as session:
        priced = (
            await session.execute(
                text(
                    "select model, input_tokens, output_tokens, cost_usd from ai_interactions"
                    " where org_id = :org and status = 'completed' order by object_key"
                ),
                {"org": org_id},
            )
        ).all()
    for model, input_tokens, output_tokens, usd in priced:  # from LYCEUM_TUTOR_MODEL_PRICES
        price_in, price_out = settings.model_price(model.removeprefix(f"{DEMO_LABEL}:"))
        assert usd == Decimal(str(round((input_tokens * price_in + output_tokens * price_out) / 1e6, 6)))
    assert {m for m, *_ in priced if not settings.model_price(m.removeprefix(f"{DEMO_LABEL}:"))[0]} == {
        demo_model("offline")
    }
    # The dashboard's rollup holds all of it at once, hours and days alike, ratings included.
    assert [r[0] for r in rollup] == ["day", "hour"]
    for _grain, rolled_turns, rolled_tokens, rolled_cost, rolled_ratings in rollup:
        assert (rolled_turns, rolled_tokens, Decimal(rolled_cost)) == (turns, tokens, Decimal(cost))
        assert rolled_ratings == report.ratings > 0
    ai_grades, reviewed, overridden, pairs, ratings = grading
    assert ai_grades == report.ai_grades > 0
    assert reviewed == report.reviews == pairs > overridden > 0
    assert ratings == report.ratings

    # The same run again: the same figures (a fixed seed), nothing doubled.
    again = await seed_demo_ai_history(settings, slug, now=NOW)
    assert again == report
    assert await _figures(owner, org_id) == (raw, rollup, grading)

    # A day later: the history moves up to the new "now"; the rollup keeps no hour of the old one.
    later = await seed_demo_ai_history(settings, slug, now=NOW + timedelta(days=1))
    raw_later, rollup_later, _ = await _figures(owner, org_id)
    assert raw_later[0] == later.interactions
    assert raw_later[9] >= first + timedelta(days=1) - timedelta(hours=1)
    for _grain, rolled_turns, rolled_tokens, _cost, _ratings in rollup_later:
        assert (rolled_turns, rolled_tokens) == (raw_later[0], raw_later[1])


async def test_the_test_suite_seed_writes_no_demo_history(owner: Database) -> None:
    async with owner.transaction(None) as session:
        demo = await session.scalar(select(Organization.id).where(Organization.slug == "demo"))
    assert demo is not None
    async with owner.transaction(demo) as session:
        labelled = await session.scalar(
            text("select count(*) from ai_interactions where org_id = :org and provider = :label"),
            {"org": demo, "label": DEMO_LABEL},
        )
    assert labelled == 0
