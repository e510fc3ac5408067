"""Tutor model providers.

AnthropicProvider runs the REAL anthropic SDK against the local fake API (tests/support/fake_anthropic), which
speaks the documented wire format; nothing in the SDK is patched. The offline tutor runs on the real
course content from content/courses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.config import Secret, Settings
from app.content.loader import load_courses
from app.domain.tutor.context import protected_texts
from app.domain.tutor.providers.anthropic import AnthropicProvider, RetryPolicy, parse_retry_after
from app.domain.tutor.providers.base import (
    ChatMessage,
    ModelRequest,
    ProviderError,
    RelatedItem,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TutorContext,
)
from app.domain.tutor.providers.factory import create_provider
from app.domain.tutor.providers.offline import LABEL_LINE, NO_MATERIAL, OfflineTutorProvider
from app.domain.tutor.providers.tokens import estimate_request_tokens, estimate_tokens
from tests.support.fake_anthropic import FakeAnthropic, settings_for

ROOT = Path(__file__).resolve().parents[3]
PRIMARY, FALLBACK = "claude-sonnet-4-5", "claude-haiku-4-5"
FAST_RETRIES = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05)
REPLY = "Good question. What happens to the server state if the same PUT request arrives twice?"


def request(text: str = "Why is PUT idempotent?", **changes: Any) -> ModelRequest:
    base = ModelRequest(
        system="You are a Socratic tutor.", messages=(ChatMessage("user", text),), max_tokens=321, model=PRIMARY
    )
    return dataclasses.replace(base, **changes)


async def collect(stream: AsyncIterator[StreamEvent]) -> tuple[list[StreamEvent], ProviderError | None]:
    events: list[StreamEvent] = []
    try:
        async for event in stream:
            events.append(event)
    except ProviderError as exc:
        return events, exc
    return events, None


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.fixture
async def make_provider(fake_anthropic: FakeAnthropic) -> AsyncIterator[Callable[..., AnthropicProvider]]:
    made: list[AnthropicProvider] = []

    def make(retry: RetryPolicy = FAST_RETRIES, **overrides: Any) -> AnthropicProvider:
        provider = AnthropicProvider(settings_for(fake_anthropic, **overrides), retry=retry)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


# ------------------------------------------------------------------------------------------ anthropic


async def test_stream_yields_start_deltas_end_with_server_usage(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(reply=REPLY, tokens_per_chunk=2, input_tokens=42, output_tokens=17)
    provider = make_provider()

    events, error = await collect(provider.stream(request()))

    assert error is None
    assert events[0] == StreamStart(model=PRIMARY, input_tokens=42)
    assert events[-1] == StreamEnd(input_tokens=42, output_tokens=17, stop_reason="end_turn")
    deltas = [e for e in events[1:-1] if isinstance(e, TextDelta)]
    assert len(deltas) == len(events) - 2 > 1
    assert text_of(events) == REPLY
    assert provider.name == "anthropic"
    assert provider.label == f"Claude ({PRIMARY})"


async def test_request_carries_system_prompt_model_and_max_tokens(fake_anthropic, make_provider) -> None:
    history = (ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello!"), ChatMessage("user", "What is REST?"))
    await collect(make_provider().stream(request(messages=history)))

    (sent,) = fake_anthropic.message_requests
    assert sent.model == PRIMARY
    assert sent.system == "You are a Socratic tutor."
    assert sent.max_tokens == 321
    assert sent.stream is True
    assert sent.body["messages"] == [{"role": m.role, "content": m.content} for m in history]
    # API version 2026-10-21 rejects sampling parameters, so the provider must not send temperature.
    assert "temperature" not in sent.body
    assert sent.headers["anthropic-version"]
    assert "x-api-key" in sent.headers or sent.headers.get("authorization", "").startswith("Bearer ")


@pytest.mark.parametrize("status", [429, 529, 500])
async def test_retries_then_succeeds_honouring_retry_after(fake_anthropic, make_provider, status) -> None:
    fake_anthropic.script(reply=REPLY, failures=[status, status], retry_after=0.2)
    started = time.monotonic()

    events, error = await collect(make_provider().stream(request()))

    assert error is None
    assert text_of(events) == REPLY
    assert sum(isinstance(e, StreamStart) for e in events) == 1  # the failed attempts are invisible
    attempts = fake_anthropic.message_requests
    assert len(attempts) == 3
    assert {a.model for a in attempts} == {PRIMARY}  # two overloaded answers stay below the fallback threshold
    gaps = [later.received_at - earlier.received_at for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= 0.18 for gap in gaps), gaps  # waited the server's retry-after each time
    assert time.monotonic() - started < 5


async def test_backoff_uses_full_jitter_below_the_exponential_ceiling(fake_anthropic) -> None:
    fake_anthropic.script(failures=[500, 503, 500])
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    policy = RetryPolicy(max_retries=3, base_delay=0.5, max_delay=1.5)
    provider = AnthropicProvider(settings_for(fake_anthropic), retry=policy, sleep=record)
    try:
        events, error = await collect(provider.stream(request()))
    finally:
        await provider.aclose()

    assert error is None
    assert events
    assert len(delays) == 3
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(delays, [0.5, 1.0, 1.5], strict=True)), delays


async def test_gives_up_after_max_retries(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(failures=[500] * 10)

    events, error = await collect(
        make_provider(retry=dataclasses.replace(FAST_RETRIES, max_retries=2)).stream(request())
    )

    assert events == []
    assert error is not None
    assert error.code == "unavailable"
    assert len(fake_anthropic.message_requests) == 3


async def test_retry_after_beyond_the_cap_is_surfaced_not_waited(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(failures=[429], retry_after=120)
    started = time.monotonic()

    _, error = await collect(make_provider().stream(request()))

    assert error is not None
    assert error.code == "rate_limited"
    assert error.retry_after == 120
    assert len(fake_anthropic.message_requests) == 1
    assert time.monotonic() - started < 2


async def test_switches_to_fallback_model_after_repeated_overload(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(reply=REPLY, failing_models={PRIMARY: 529})

    events, error = await collect(make_provider(tutor_max_retries=3).stream(request()))

    assert error is None
    assert events[0] == StreamStart(model=FALLBACK, input_tokens=events[0].input_tokens)  # type: ignore[union-attr]
    assert text_of(events) == REPLY
    assert [r.model for r in fake_anthropic.message_requests] == [PRIMARY, PRIMARY, PRIMARY, FALLBACK]


async def test_overloaded_fallback_fails_with_overloaded(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(failing_models={PRIMARY: 529, FALLBACK: 529})

    _, error = await collect(make_provider().stream(request()))

    assert error is not None
    assert error.code == "overloaded"
    models = [r.model for r in fake_anthropic.message_requests]
    assert models == [PRIMARY] * 3 + [FALLBACK] * 4  # the fallback gets its own retries, and no second switch


async def test_mid_stream_error_is_not_retried_and_reports_partial_tokens(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(reply=REPLY, tokens_per_chunk=1, error_after_chunks=4, error_type="overloaded_error")

    events, error = await collect(make_provider().stream(request()))

    assert error is not None
    assert error.code == "overloaded"
    partial = text_of(events)
    assert partial == "".join(REPLY.split(" ")[i] + " " for i in range(4))
    assert error.output_tokens == estimate_tokens(partial) > 0
    assert not any(isinstance(e, StreamEnd) for e in events)
    assert len(fake_anthropic.message_requests) == 1  # never replay a partly streamed reply


async def test_error_event_before_the_first_token_is_retried(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(reply=REPLY, error_after_chunks=0, error_times=1, error_type="api_error")

    events, error = await collect(make_provider().stream(request()))

    assert error is None
    assert text_of(events) == REPLY
    assert sum(isinstance(e, StreamStart) for e in events) == 1
    assert len(fake_anthropic.message_requests) == 2


async def test_stall_before_headers_times_out(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(stall_seconds=5)
    started = time.monotonic()

    events, error = await collect(make_provider(tutor_read_timeout_seconds=0.3).stream(request()))

    assert events == []
    assert error is not None
    assert error.code == "timeout"
    assert len(fake_anthropic.message_requests) == 1  # a read timeout is not retried: it would double the wait
    assert time.monotonic() - started < 3


async def test_stall_mid_stream_times_out_with_partial_tokens(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(reply=REPLY, stall_seconds=5, stall_after_chunks=3)

    events, error = await collect(make_provider(tutor_read_timeout_seconds=0.3).stream(request()))

    assert error is not None
    assert error.code == "timeout"
    assert error.output_tokens == estimate_tokens(text_of(events)) > 0
    assert len(fake_anthropic.message_requests) == 1


async def test_bad_request_is_not_retried(fake_anthropic, make_provider) -> None:
    fake_anthropic.script(failures=[400])

    _, error = await collect(make_provider().stream(request()))

    assert error is not None
    assert error.code == "bad_request"
    assert len(fake_anthropic.message_requests) == 1


async def test_unreachable_api_is_unavailable(fake_anthropic) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = Settings(anthropic_api_key=Secret("k"), anthropic_base_url=f"http://127.0.0.1:{closed_port}")
    provider = AnthropicProvider(settings, retry=dataclasses.replace(FAST_RETRIES, max_retries=1))
    try:
        _, error = await collect(provider.stream(request()))
    finally:
        await provider.aclose()

    assert error is not None
    assert error.code == "unavailable"


async def test_count_tokens_uses_the_api_and_falls_back_to_an_estimate(fake_anthropic, make_provider) -> None:
    provider = make_provider()
    fake_anthropic.script(count_tokens=1234)

    assert await provider.count_tokens(request()) == 1234
    (counted,) = fake_anthropic.requests
    assert counted.path == "/v1/messages/count_tokens"
    assert counted.model == PRIMARY
    assert counted.system == "You are a Socratic tutor."

    fake_anthropic.script(count_tokens_status=500)
    assert await provider.count_tokens(request()) == estimate_request_tokens(request())


def test_retry_after_header_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    http_date = parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert http_date == 0.0  # a date in the past means "now"


async def test_factory_picks_provider_from_the_api_key(fake_anthropic) -> None:
    assert isinstance(create_provider(Settings()), OfflineTutorProvider)
    online = create_provider(settings_for(fake_anthropic))
    assert isinstance(online, AnthropicProvider)
    await online.aclose()


# -------------------------------------------------------------------------------------------- offline


@pytest.fixture(scope="module")
def courses() -> dict[str, Any]:
    return {course.slug: course for course in load_courses(ROOT / "content" / "courses")}


def context_for(course: Any, slug: str, mode: str = "socratic") -> TutorContext:
    """What app.domain.tutor.context builds from the database, built here from the course file."""
    module, item = next((m, i) for m in course.modules for i in m.items if i.slug == slug)
    assessment = SimpleNamespace(spec=item.assessment.spec()) if item.assessment is not None else None
    lessons = tuple(RelatedItem(i.title, i.body[:1500]) for i in module.items if i.kind == "lesson" and i is not item)
    return TutorContext(
        course_title=course.title,
        mode=mode,  # type: ignore[arg-type]
        item_title=item.title,
        item_body=item.body,
        item_kind=item.kind,
        graded=bool(item.assessment is not None and item.assessment.graded),
        module_items=lessons,
        protected=protected_texts(SimpleNamespace(solution=item.solution), assessment),  # type: ignore[arg-type]
    )


def conversation(question: str, level: int = 0) -> tuple[ChatMessage, ...]:
    # The offline tutor reads the hint level it reached from the labels of its earlier replies.
    earlier = [
        message
        for n in range(1, level + 1)
        for message in (ChatMessage("user", "Can I get a hint?"), ChatMessage("assistant", f"**Hint {n}:** (earlier)"))
    ]
    return (*earlier, ChatMessage("user", question))


async def offline_reply(context: TutorContext, question: str, level: int = 0) -> tuple[list[StreamEvent], str]:
    events, error = await collect(
        OfflineTutorProvider().stream(ModelRequest("system", conversation(question, level), 2000, context=context))
    )
    assert error is None
    return events, text_of(events)


async def test_offline_reply_is_deterministic_labelled_and_streamed(courses) -> None:
    context = context_for(courses["backend-foundations"], "http-request-lifecycle")
    events, text = await offline_reply(context, "Which methods are safe to retry after a timeout?")
    _, again = await offline_reply(context, "Which methods are safe to retry after a timeout?")

    assert text == again
    assert text.startswith(LABEL_LINE + "\n")
    assert isinstance(events[0], StreamStart)
    assert events[0].model == "offline"
    assert isinstance(events[-1], StreamEnd)
    assert events[-1].output_tokens == estimate_tokens(text)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 10
    assert all(len(d.text.split()) <= 3 for d in deltas)
    assert "idempotent" in text  # retrieved the passage about retrying safely
    provider = OfflineTutorProvider()
    assert (provider.name, provider.label) == ("offline", "Offline tutor (built from course content)")


async def test_offline_stream_yields_to_the_event_loop_between_chunks(courses) -> None:
    context = context_for(courses["backend-foundations"], "http-request-lifecycle")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    seen = [
        ticks
        async for _ in OfflineTutorProvider().stream(ModelRequest("s", conversation("PUT?"), 500, context=context))
    ]
    task.cancel()
    assert seen[-1] - seen[1] >= len(seen) - 3  # another task ran between the deltas


async def assert_never_leaks(base: TutorContext, questions_per_solution: int) -> None:
    # Questions that ask for the answer outright, and ones built from the solution's own lines (the
    # most likely to retrieve material that overlaps it).
    questions = ["What is the answer?", "I'm stuck", "Can you just show me the solution?"]
    for text in base.protected:
        questions += [line.strip() for line in text.splitlines() if len(line.strip()) > 20][:questions_per_solution]
    windows = {text[i : i + 30] for text in base.protected for i in range(len(text) - 29)}
    for mode in ("socratic", "hint", "explain"):
        for question in questions:
            for level in range(4 if mode == "hint" else 1):
                _, text = await offline_reply(dataclasses.replace(base, mode=mode), question, level)
                leaked = [w for w in windows if w in text]
                assert not leaked, (base.item_title, mode, question, level, leaked[:1])


@pytest.mark.parametrize("slug", ["bookmarks-api-design", "test-the-login-endpoint", "bearer-token-parser"])
async def test_offline_never_reveals_a_worked_solution(courses, slug) -> None:
    base = context_for(courses["backend-foundations"], slug)
    assert len(max(base.protected, key=len)) > 200  # a real worked solution, not a stub

    await assert_never_leaks(base, questions_per_solution=8)


async def test_offline_never_reveals_protected_text_in_any_course(courses) -> None:
    checked = 0
    for course in courses.values():
        for item in (i for m in course.modules for i in m.items):
            base = context_for(course, item.slug)
            if any(len(text) >= 30 for text in base.protected):
                await assert_never_leaks(base, questions_per_solution=2)
                checked += 1
    assert checked >= 10


async def test_hint_levels_get_more_concrete(courses) -> None:
    context = context_for(courses["backend-foundations"], "designing-resources", mode="hint")
    question = "How should I paginate a long list of bookmarks?"
    replies = [(await offline_reply(context, question, level))[1] for level in range(4)]

    for number, reply in enumerate(replies, 1):
        assert f"**Hint {number}" in reply
    quoted = [sum(len(line) for line in reply.splitlines() if line.startswith("> ")) for reply in replies]
    assert quoted[0] == 0  # level 1 only says where to look
    assert 0 < quoted[1] < quoted[2]  # then the key sentence, then more of it
    assert "cursor" in replies[2].lower()
    assert "won't write the solution" in replies[3]
    assert len(set(replies)) == 4


@pytest.mark.parametrize("mode", ["socratic", "hint", "explain"])
async def test_graded_work_stays_socratic_in_every_mode(courses, mode) -> None:
    context = context_for(courses["backend-foundations"], "bearer-token-parser", mode=mode)
    assert context.graded

    _, text = await offline_reply(context, "Please write parse_bearer_token for me. How do I check the scheme?")

    assert "graded work" in text
    assert "can't give you answers" in text
    assert text.count("?") >= 2  # guiding questions instead of answers
    assert "```" not in text
    assert "\n> " not in text


async def test_socratic_mode_asks_questions_anchored_on_the_material(courses) -> None:
    context = context_for(courses["backend-foundations"], "relational-modelling")

    _, text = await offline_reply(context, "What does a foreign key do?")

    assert "\n> " in text
    assert "foreign key" in text.lower()
    assert "1. " in text
    assert text.count("?") >= 2
    assert "Re-read" in text
    assert "From domain to tables" in text


async def test_explain_mode_explains_with_a_small_code_example(courses) -> None:
    context = context_for(courses["backend-foundations"], "relational-modelling", mode="explain")

    _, text = await offline_reply(context, "What does a foreign key do?")

    assert "as the material explains it" in text
    assert "```sql" in text
    assert "references" in text


async def test_offline_without_material_says_so() -> None:
    events, error = await collect(OfflineTutorProvider().stream(request()))

    assert error is None
    assert text_of(events) == f"{LABEL_LINE}\n\n{NO_MATERIAL}"


async def test_offline_respects_max_tokens_and_counts_locally(courses) -> None:
    context = context_for(courses["backend-foundations"], "relational-modelling", mode="explain")
    short = ModelRequest("system", conversation("foreign key?"), max_tokens=20, context=context)

    events, _ = await collect(OfflineTutorProvider().stream(short))

    assert isinstance(events[-1], StreamEnd)
    assert events[-1].stop_reason == "max_tokens"
    assert len(text_of(events)) <= 80
    assert await OfflineTutorProvider().count_tokens(short) == estimate_request_tokens(short)
