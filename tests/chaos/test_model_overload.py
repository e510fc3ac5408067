"""Chaos drill: the model API answers 529 overloaded (and 429 rate limited) to everything, for a while.

Runbook: docs/runbooks/model-overload.md; the drill itself: docs/runbooks/chaos-drills.md.

Through the real ``anthropic`` SDK against tests/support/fake_anthropic, with learners talking to a live app
over SSE: the provider retries (``LYCEUM_TUTOR_MAX_RETRIES``), an overloaded primary model switches to the
fallback model (``LYCEUM_TUTOR_FALLBACK_MODEL``) and the learner gets the reply; with every model overloaded,
or no fallback configured, or rate limited, the learner gets an ``error`` event with a plain sentence (never a
stack trace, never an HTTP 5xx) and the turn's budget hold is given back. Once the storm ends, turns succeed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis

from app.config import Settings
from app.domain.tutor.providers.anthropic import DETAILS
from tests.support.chaos import live_app, new_learner, tutor_session, tutor_turn
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.stack import make_settings

pytestmark = pytest.mark.slow

PRIMARY, FALLBACK = "claude-sonnet-4-5", "claude-haiku-4-5"
RETRIES = 2
REPLY = "Think about what the server must remember between requests. What does statelessness buy you here?"
# Words a learner must never see in the message: the insides of the failure.
INSIDES = ("Traceback", "anthropic.", "529", "overloaded_error", "Exception")


def _settings(base: Settings, fake: FakeAnthropic, data: Path, prefix: str, **env: str) -> Settings:
    return make_settings(
        base.database_url,
        base.redis_url,
        base.redis_key_prefix + prefix,
        data,
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake.base_url,
        LYCEUM_TUTOR_MODEL=PRIMARY,
        LYCEUM_TUTOR_MAX_RETRIES=str(RETRIES),
        **env,
    )


@pytest.fixture(scope="module")
def with_fallback(
    settings: Settings, seeded: Any, fake_anthropic_server: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Litestar, Settings]]:
    drill = _settings(settings, fake_anthropic_server, tmp_path_factory.mktemp("overload"), "overload:")
    with live_app(drill) as (url, app):
        yield url, app, drill


@pytest.fixture(scope="module")
def without_fallback(
    settings: Settings, seeded: Any, fake_anthropic_server: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Litestar, Settings]]:
    drill = _settings(
        settings,
        fake_anthropic_server,
        tmp_path_factory.mktemp("overload-nofallback"),
        "overload-nofallback:",
        LYCEUM_TUTOR_FALLBACK_MODEL="",
    )
    with live_app(drill) as (url, app):
        yield url, app, drill


async def _budget(settings: Settings, session_id: str) -> tuple[int, int]:
    """(used, reserved) of the session's budget scope."""
    redis = Redis.from_url(settings.redis_url)
    try:
        used, reserved = await redis.hmget(
            f"{settings.redis_key_prefix}budget:session:{session_id}", "used", "reserved"
        )
    finally:
        await redis.aclose()
    return int(used or 0), int(reserved or 0)


def _assert_clear_error(events: list[dict[str, Any]], code: str) -> None:
    last = events[-1]
    assert last["type"] == "error", events
    assert last["code"] == code, events
    assert last["detail"] == DETAILS[code]
    assert not any(word in last["detail"] for word in INSIDES)


async def _learner_session(http: httpx.AsyncClient, settings: Settings) -> tuple[dict[str, str], str]:
    headers = await new_learner(http, settings)
    return headers, (await tutor_session(http, headers))["id"]


async def test_primary_overload_storm_is_answered_by_the_fallback_model(
    with_fallback: tuple[str, Litestar, Settings], fake_anthropic: FakeAnthropic
) -> None:
    url, _app, settings = with_fallback
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        learners = [await _learner_session(http, settings) for _ in range(3)]
        fake_anthropic.script(reply=REPLY, failing_models={PRIMARY: 529}, retry_after=0)
        turns = await asyncio.gather(*(tutor_turn(http, headers, session) for headers, session in learners))

        for (_headers, session), (status, events, _) in zip(learners, turns, strict=True):
            assert status == 200
            done = events[-1]
            assert done["type"] == "done", events
            assert done["model"] == FALLBACK
            assert "".join(e["text"] for e in events if e["type"] == "delta") == REPLY
            used, reserved = await _budget(settings, session)
            assert reserved == 0
            assert used == done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
        models = [r.model for r in fake_anthropic.message_requests]
        # Each turn: RETRIES overloaded answers from the primary, then one switch to the fallback (no waiting).
        assert models.count(PRIMARY) == RETRIES * len(learners)
        assert models.count(FALLBACK) == len(learners)

        fake_anthropic.script(reply=REPLY)  # the storm ends: the primary answers again
        status, events, _ = await tutor_turn(http, *learners[0])
        assert status == 200
        assert events[-1]["type"] == "done", events
        assert events[-1]["model"] == PRIMARY


async def test_every_model_overloaded_tells_the_learner_and_charges_nothing(
    with_fallback: tuple[str, Litestar, Settings], fake_anthropic: FakeAnthropic
) -> None:
    url, _app, settings = with_fallback
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        headers, session = await _learner_session(http, settings)
        fake_anthropic.script(failing_models={PRIMARY: 529, FALLBACK: 529}, retry_after=0)
        status, events, _ = await tutor_turn(http, headers, session)
        assert status == 200
        _assert_clear_error(events, "overloaded")
        assert not [e for e in events if e["type"] == "delta"]
        assert await _budget(settings, session) == (0, 0)  # released: nothing was produced
        models = [r.model for r in fake_anthropic.message_requests]
        assert models == [PRIMARY] * RETRIES + [FALLBACK] * (RETRIES + 1)  # the fallback's own retries

        transcript = (await http.get(f"/v1/tutor/sessions/{session}", headers=headers)).json()
        assert transcript  # the failed turn did not break the session

        fake_anthropic.script(reply=REPLY)
        status, events, _ = await tutor_turn(http, headers, session)
        assert status == 200
        assert events[-1]["type"] == "done", events


async def test_rate_limit_storm_is_retried_then_explained(
    with_fallback: tuple[str, Litestar, Settings], fake_anthropic: FakeAnthropic
) -> None:
    url, _app, settings = with_fallback
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        headers, session = await _learner_session(http, settings)
        # A short storm: fewer 429s than attempts, so the retries carry the turn through.
        fake_anthropic.script(reply=REPLY, failures=[429] * RETRIES, retry_after=0)
        status, events, _ = await tutor_turn(http, headers, session)
        assert status == 200
        assert events[-1]["type"] == "done", events
        assert [r.model for r in fake_anthropic.message_requests] == [PRIMARY] * (RETRIES + 1)  # 429: no fallback

        # A long one: every attempt refused; the learner is told, with when to come back.
        fake_anthropic.reset()
        fake_anthropic.script(reply=REPLY, failures=[429] * (RETRIES + 1), retry_after=0)
        status, events, _ = await tutor_turn(http, headers, session)
        assert status == 200
        _assert_clear_error(events, "rate_limited")
        used_before, reserved = await _budget(settings, session)
        assert reserved == 0

        status, events, _ = await tutor_turn(http, headers, session)  # the storm is over
        assert events[-1]["type"] == "done", events
        used_after, reserved = await _budget(settings, session)
        assert reserved == 0
        assert used_after == used_before + events[-1]["usage"]["input_tokens"] + events[-1]["usage"]["output_tokens"]


async def test_without_a_fallback_model_the_overload_is_explained(
    without_fallback: tuple[str, Litestar, Settings], fake_anthropic: FakeAnthropic
) -> None:
    url, _app, settings = without_fallback
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        headers, session = await _learner_session(http, settings)
        fake_anthropic.script(failing_models={PRIMARY: 529}, retry_after=0)
        status, events, _ = await tutor_turn(http, headers, session)
        assert status == 200
        _assert_clear_error(events, "overloaded")
        assert [r.model for r in fake_anthropic.message_requests] == [PRIMARY] * (RETRIES + 1)
        assert await _budget(settings, session) == (0, 0)

        fake_anthropic.script(reply=REPLY)
        status, events, _ = await tutor_turn(http, headers, session)
        assert events[-1]["type"] == "done", events
        assert events[-1]["model"] == PRIMARY
