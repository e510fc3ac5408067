"""Nothing is lost across restarts of ``lyceum up`` (issue 9), tested on the real thing.

``lyceum up`` runs as a subprocess on a temporary data dir with its embedded PostgreSQL and Redis,
exactly as on a laptop, and is stopped the ways it gets stopped: SIGTERM (Ctrl-C), SIGKILL of the
whole process group (a crash, a closed terminal), and SIGKILL plus the loss of Redis's data. Each
time, short answers (whose model call hangs in the fake Anthropic API) and code submissions (whose
code sleeps in the sandbox) are mid-grading; after the restart every submission must end graded
exactly once: one grade row and one ``assessment.graded`` progress event each. A token logged out
before a stop must stay logged out after it. The supervisor must notice a killed Redis or PostgreSQL,
``/ready`` must answer 503 while it is dead and 200 once it is back.

Everything runs with every core busy (``cpu_hog``); every wait is on a condition, and the deadlines
only bound a run that has already failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.server.api_process import default_api_processes
from app.server.embedded import free_port
from tests.support.data_dirs import embedded_data_dir
from tests.support.fake_anthropic.server import FakeAnthropic
from tests.support.grading import assessment, assessment_spec, rubric_tool_input, top_rubric_points
from tests.support.progress import open_assessments_of

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 300.0  # seconds; bounds a failing run only (three restarts of a loaded machine's stack)
PASSWORD = "lyceum-demo"
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cpu_hog")]


class Platform:
    """One ``lyceum up`` on one data dir, started and stopped the way an operator (or a crash) does."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "lyceum-up.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(b"\n--- lyceum up starts ---\n")
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "up", "--port", str(self.port), "--data-dir", str(self.data_dir)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so "kill the whole group" hits only it
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self) -> str:
        return self.log()[-6000:]

    async def wait_healthy(self, http: httpx.AsyncClient) -> None:
        async def healthy() -> bool:
            assert self.running(), f"lyceum up exited:\n{self.tail()}"
            with contextlib.suppress(httpx.HTTPError):
                return (await http.get("/health")).status_code == 200
            return False

        await until(healthy, "lyceum up to answer /health", self)

    def terminate(self) -> int:
        """SIGTERM to ``lyceum up`` itself (what Ctrl-C or a service manager sends); its exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=DEADLINE)

    def kill_group(self) -> None:
        """SIGKILL to the whole process group: ``lyceum up``, API, worker, Redis. No shutdown code runs.
        (pg_ctl starts PostgreSQL in a session of its own, so it survives and is reused next time.)"""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=DEADLINE)

    def freeze(self) -> None:
        """Stop the supervisor (not its children): nothing is restarted until :meth:`thaw`."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def _postmaster_lines(self) -> list[str]:
        return (self.data_dir / "postgres" / "postmaster.pid").read_text().splitlines()

    def postmaster_pid(self) -> int:
        return int(self._postmaster_lines()[0])

    def redis_pid(self) -> int:
        return int((self.data_dir / "redis" / "redis.pid").read_text().strip())

    def database_url(self) -> str:
        """The same server as a SQLAlchemy URL (the socket directory as ``host``)."""
        lines = self._postmaster_lines()
        return f"postgresql://postgres@:{lines[3].strip()}/postgres?host={lines[4].strip()}"

    def database_dsn(self) -> str:
        lines = self._postmaster_lines()
        return f"postgresql://postgres@/postgres?host={lines[4].strip()}&port={lines[3].strip()}"


async def until(
    condition: Callable[[], Awaitable[bool]], what: str, platform: Platform | None = None, interval: float = 0.2
) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}" + (f"\n{platform.tail()}" if platform else ""))
        await asyncio.sleep(interval)


def _exited(pid: int) -> bool:
    """The process is gone or a zombie (its files, so its sockets, are closed once it is a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def platform(fake_anthropic_server: FakeAnthropic) -> Iterator[Platform]:
    with embedded_data_dir("restarts") as root:
        yield from _platform(root, fake_anthropic_server)


def _platform(root: Path, fake_anthropic_server: FakeAnthropic) -> Iterator[Platform]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "LYCEUM_LOG_LEVEL": "INFO",  # the supervisor's events are part of what is checked
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "ANTHROPIC_BASE_URL": fake_anthropic_server.base_url,
            "LYCEUM_REVIEW_SAMPLE_RATE": "0",  # every confident grade stays "graded"
            "LYCEUM_GRADING_HEARTBEAT_SECONDS": "3",  # recovery within seconds, not a minute
            "LYCEUM_GRADING_STALE_SECONDS": "12",  # this data dir's database has no other queue's sweeps
            "LYCEUM_RATE_LIMIT_SUBMIT_USER": "1000/1s",
            "LYCEUM_RATE_LIMIT_API_USER": "100000/1000s",  # the outage traffic (Traffic) reads as fast as it can
            "LYCEUM_RATE_LIMIT_LOGIN_USER": "10000/60s",
            "LYCEUM_RATE_LIMIT_LOGIN_ORG": "10000/60s",
            "LYCEUM_RATE_LIMIT_LOGIN_GLOBAL": "10000/60s",
        }
    )
    up = Platform(root / "data", env)
    up.start()
    yield up
    # Whatever happened, leave nothing running: lyceum up, then a PostgreSQL it could not stop.
    if up.running():
        with contextlib.suppress(ProcessLookupError):
            up.thaw()
        try:
            up.terminate()
        except subprocess.TimeoutExpired:
            up.kill_group()
    with contextlib.suppress(OSError, ValueError, IndexError):
        postmaster = up.postmaster_pid()
        if Path(f"/proc/{postmaster}/comm").read_text().strip() == "postgres":
            os.kill(postmaster, signal.SIGINT)  # fast shutdown


@pytest.fixture(scope="module")
async def http(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    # No kept-alive connections: the API processes behind the port are killed and restarted here, and a
    # request must not be sent down a connection to one that just died (a fresh connection reaches a live one).
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=platform.url, timeout=60, limits=limits) as client:
        await platform.wait_healthy(client)
        yield client


async def _login(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post(
        "/v1/auth/login", json={"email": "learner@demo.test", "password": PASSWORD, "org": "demo"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _login_through_503s(http: httpx.AsyncClient, platform: Platform) -> dict[str, str]:
    """Sign in, honouring 503s: sign-in fails closed (503 with Retry-After) while the rate limiter's
    fail-fast Redis calls time out, which a loaded machine can cause right after a start, and after a
    Redis restart the API's pooled connections fail once each before the pool reconnects."""
    logins: list[httpx.Response] = []

    async def logged_in() -> bool:
        logins.append(
            await http.post("/v1/auth/login", json={"email": "learner@demo.test", "password": PASSWORD, "org": "demo"})
        )
        assert logins[-1].status_code in (200, 503), logins[-1].text
        assert logins[-1].status_code == 200 or logins[-1].headers.get("Retry-After"), logins[-1].text
        return logins[-1].status_code == 200

    await until(logged_in, "a sign-in", platform)
    return {"Authorization": f"Bearer {logins[-1].json()['access_token']}"}


@pytest.fixture(scope="module")
async def learner(http: httpx.AsyncClient, platform: Platform) -> dict[str, str]:
    headers = await _login(http)
    courses = (await http.get("/v1/courses", headers=headers, params={"limit": 100})).json()["items"]
    course = next(c for c in courses if c["slug"] == "backend-foundations")
    enrolled = await http.post(f"/v1/courses/{course['id']}/enrollments", headers=headers)
    assert enrolled.status_code in (200, 201), enrolled.text
    # Submissions to locked or gated assessments are refused (issue 12): open them as after the work.
    await open_assessments_of(platform.database_url(), "learner@demo.test")
    return headers


async def _ready(http: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    try:
        response = await http.get("/ready")
    except httpx.HTTPError as exc:
        return 0, {"error": repr(exc)}
    return response.status_code, response.json()


async def _submit(http: httpx.AsyncClient, headers: dict[str, str], slug: str, answer: dict[str, str]) -> str:
    task = await assessment(http, headers, slug)  # type: ignore[arg-type]  # same calls as the test client
    accepted = await http.post(f"/v1/assessments/{task['id']}/submissions", headers=headers, json=answer)
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["id"])


async def _rows(platform: Platform, ids: list[str]) -> dict[str, asyncpg.Record]:
    """Per submission: status, recoveries, grade rows, assessment.graded events (as the owner: no RLS)."""
    connection = await asyncpg.connect(platform.database_dsn())
    try:
        rows = await connection.fetch(
            """
            select s.id::text as id, s.status, s.recoveries,
                   (select count(*) from grades g where g.submission_id = s.id) as grades,
                   (select count(*) from progress_events e
                     where e.type = 'assessment.graded' and e.payload->>'submission_id' = s.id::text) as graded_events
            from submissions s where s.id = any($1::uuid[])
            """,
            ids,
        )
    finally:
        await connection.close()
    return {row["id"]: row for row in rows}


async def _statuses(platform: Platform, ids: list[str]) -> dict[str, str]:
    try:
        return {k: v["status"] for k, v in (await _rows(platform, ids)).items()}
    except (OSError, asyncpg.PostgresError):
        return {}  # PostgreSQL restarting


async def _mid_grading(
    platform: Platform, http: httpx.AsyncClient, headers: dict[str, str], fake: FakeAnthropic
) -> list[str]:
    """Two short answers whose first model call hangs and a code submission that sleeps: all three
    ``grading``, both model calls in flight, when this returns."""
    fake.reset()
    fake.script(tool_inputs=[rubric_tool_input(top_rubric_points())], stall_seconds=DEADLINE, stall_times=2)
    ids = [
        await _submit(http, headers, "schema-review", {"text": f"Review {n}: the orders table needs an index."})
        for n in (1, 2)
    ]
    slow_code = "import time\ntime.sleep(4)\n" + assessment_spec("bearer-token-parser")["reference_solution"]
    ids.append(await _submit(http, headers, "bearer-token-parser", {"code": slow_code}))

    async def in_flight() -> bool:
        statuses = await _statuses(platform, ids)
        return len(fake.message_requests) >= 2 and list(statuses.values()).count("grading") == len(ids)

    await until(in_flight, "three submissions mid-grading", platform, interval=0.05)
    return ids


async def _logged_out_token(http: httpx.AsyncClient) -> dict[str, str]:
    headers = await _login(http)
    assert (await http.post("/v1/auth/logout", headers=headers)).status_code == 204
    assert (await http.get("/v1/me", headers=headers)).status_code == 401
    return headers


async def _restart_and_check(
    platform: Platform, http: httpx.AsyncClient, all_ids: list[str]
) -> dict[str, asyncpg.Record]:
    started = time.monotonic()
    platform.start()
    await platform.wait_healthy(http)
    healthy = time.monotonic()

    async def all_graded() -> bool:
        statuses = await _statuses(platform, all_ids)
        return len(statuses) == len(all_ids) and set(statuses.values()) == {"graded"}

    await until(all_graded, f"every submission graded: {await _statuses(platform, all_ids)}", platform)
    # Shown with -s (or on failure): the figures docs/runbooks/restarts.md quotes.
    print(f"restart: healthy after {healthy - started:.1f} s, all graded {time.monotonic() - healthy:.1f} s later")
    rows = await _rows(platform, all_ids)
    once = {sid: (row["grades"], row["graded_events"]) for sid, row in rows.items()}
    assert once == dict.fromkeys(all_ids, (1, 1)), "each submission must be graded exactly once"
    return rows


async def test_a_first_start_prints_one_banner_and_serves_the_demo(platform: Platform, http: httpx.AsyncClient) -> None:
    """``lyceum up`` on an empty data dir, started as outside checks do: one clear start-up (a sentence for
    the embedded servers, one banner with the demo data counted as the README counts it, no platformdirs
    warning, no uvicorn chatter) and a platform that serves the demo. (This module's first start is that
    start: checking it here saves the suite a second cold start of the whole platform.)"""

    async def banner_printed() -> bool:  # /health answers a moment before `lyceum up` prints its banner
        return "Lyceum is running at" in platform.log()

    await until(banner_printed, "the banner", platform)
    output = platform.log()
    assert "lyceum: starting embedded PostgreSQL and Redis in" in output
    assert output.count("Lyceum is running at") == 1
    assert platform.url in output
    assert "learner@demo.test" in output
    assert "4 courses (3 per organisation" in output
    assert "RuntimeDirWarning" not in output
    assert "Uvicorn running on" not in output
    assert "INFO:httpx" not in output  # library request lines stay out of the console
    assert (platform.data_dir / "postgres").is_dir()  # data persists in the data dir
    headers = await _login_through_503s(http, platform)
    courses = await http.get("/v1/courses", headers=headers)
    assert courses.json()["total"] >= 3
    assert (await http.get("/v1/config")).json()["demo_mode"] is True  # demo seed: demo mode


def api_processes_of(parent: int) -> list[int]:
    """Pids of the API processes (app.server.api_process) whose parent is ``parent``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == parent and b"app.server.api_process" in argv:
            found.append(int(entry.name))
    return found


async def test_one_api_process_per_core_and_a_dead_one_is_restarted(
    platform: Platform, http: httpx.AsyncClient
) -> None:
    """One API process per core this machine gives ``lyceum up`` (issue 15), each its child; when one dies
    the others go on serving the port while the supervisor starts another."""
    apis: list[int] = []

    async def all_started() -> bool:  # the others start once the first answers /health
        apis[:] = api_processes_of(platform.pid)
        return len(apis) >= default_api_processes()

    await until(all_started, "one API process per core", platform)
    assert len(apis) == default_api_processes()
    if len(apis) < 2:
        return
    # The newest dies: the first already serves the port (the others start once it answers, and one still
    # importing listens on nothing yet, so killing the first could leave the port with no listener at all).
    killed = max(apis)
    os.kill(killed, signal.SIGKILL)

    async def exited() -> bool:
        # A killed process holds its listening socket until its exit has torn its memory down; connections
        # the kernel queued on that socket meanwhile are reset (SO_REUSEPORT has no hand-over; Linux can
        # migrate them only with net.ipv4.tcp_migrate_req, docs/decisions/0013-api-processes.md). A CI run
        # under load sent /health into that window and read a reset: what is checked is every request after
        # the death, which must reach a live sibling.
        return _exited(killed)

    await until(exited, "the killed API process to exit", platform, interval=0.02)

    async def replaced() -> bool:
        assert (await http.get("/health")).status_code == 200  # the others keep serving
        return bool(set(api_processes_of(platform.pid)) - set(apis))

    await until(replaced, "the dead API process to be restarted", platform)
    restarted = [line for line in platform.log().splitlines() if "component_restarted" in line]
    assert any("component=api-" in line for line in restarted), platform.tail()


@dataclass(frozen=True)
class Answer:
    path: str
    sent: float  # time.monotonic() when the request was sent
    status: int  # 0: no answer
    wrong: str  # "" for a success or the documented outage answer, else what was wrong
    detail: str = ""  # the body of an answer other than 200


class Traffic:
    """A learner reading their profile and the catalogue, one request after another, for as long as it runs:
    what clients see while a dependency is dead and while it comes back."""

    PATHS = ("/v1/me", "/v1/courses")

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.http, self.headers = http, headers
        self.answers: list[Answer] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            for path in self.PATHS:
                sent = time.monotonic()
                try:
                    response = await self.http.get(path, headers=self.headers)
                except httpx.HTTPError as exc:  # the API processes stay up: no request may go unanswered
                    self.answers.append(Answer(path, sent, 0, repr(exc)))
                    continue
                wrong = _not_ok_or_clear_refusal(response)
                detail = "" if response.status_code == 200 else response.text[:200]
                self.answers.append(Answer(path, sent, response.status_code, wrong, detail))
            await asyncio.sleep(0.1)

    def sent_after(self, moment: float) -> list[Answer]:
        return [answer for answer in self.answers if answer.sent > moment]

    def __enter__(self) -> Traffic:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def _not_ok_or_clear_refusal(response: httpx.Response) -> str:
    """ "" for a success or the documented outage answer (503 problem+json with Retry-After), else why not."""
    if response.status_code == 200:
        return ""
    clear = (
        response.status_code == 503
        and response.headers.get("content-type", "").startswith("application/problem+json")
        and "retry-after" in response.headers
    )
    return "" if clear else f"{response.status_code} {response.text[:200]}"


async def test_supervisor_restarts_a_dead_redis_and_postgres_and_ready_follows(
    platform: Platform, http: httpx.AsyncClient, learner: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    assert (await _ready(http))[0] == 200
    with Traffic(http, learner) as traffic:
        await _kill_redis_then_postgres(platform, http)
        back = time.monotonic()  # PostgreSQL restarted and /ready answered 200

        async def answered_since_back() -> bool:
            return len(traffic.sent_after(back)) >= 2 * len(Traffic.PATHS)

        await until(answered_since_back, "reads sent after PostgreSQL came back to be answered", platform)
    # Under traffic, every answer was a success or the documented 503 (never a 500, a 401 for a valid token,
    # or no answer), and PostgreSQL's outage was seen by the clients (503s) and ended with it: every read sent
    # once it was back succeeded.
    wrong = [answer for answer in traffic.answers if answer.wrong]
    assert not wrong, wrong[:10]
    assert any(answer.status == 503 for answer in traffic.answers), "no request met the PostgreSQL outage"
    after = traffic.sent_after(back)
    assert [answer.status for answer in after] == [200] * len(after), (after, platform.tail())
    assert platform.running()
    # The whole path works again: login (Redis, PostgreSQL), enqueue, the worker grades with the model.
    # The API's pooled Redis connections died with Redis; the first use of each fails (503, with
    # Retry-After: the documented Redis-down answer) before the pool reconnects, so retry until it has.
    fake_anthropic.script(tool_inputs=[rubric_tool_input(top_rubric_points())])
    headers = await _login_through_503s(http, platform)
    submission = await _submit(http, headers, "schema-review", {"text": "After the restarts."})

    async def graded() -> bool:
        return (await _statuses(platform, [submission])).get(submission) == "graded"

    await until(graded, "a submission graded after the restarts", platform)


async def _kill_redis_then_postgres(platform: Platform, http: httpx.AsyncClient) -> None:
    """SIGKILL each; /ready says so while the frozen supervisor leaves it dead, then 200 once it restarted it."""
    for component, pid_of in (("redis", platform.redis_pid), ("postgres", platform.postmaster_pid)):
        old = pid_of()
        platform.freeze()  # so the component stays dead until /ready has been seen to notice
        try:
            os.kill(old, signal.SIGKILL)

            async def not_ready(component: str = component) -> bool:
                status, body = await _ready(http)
                return status == 503 and str(body["checks"][component]).startswith("error")

            await until(not_ready, f"/ready to report {component} down", platform)
        finally:
            platform.thaw()

        async def ready_again(old: int = old, pid_of: Callable[[], int] = pid_of) -> bool:
            with contextlib.suppress(OSError, ValueError, IndexError):
                return pid_of() != old and (await _ready(http))[0] == 200
            return False

        await until(ready_again, f"{component} to be restarted and /ready to be 200", platform)
        log = platform.log()
        assert f"component_down                 component={component}" in log
        assert f"component={component}" in log.split("component_restarted", 1)[-1]


async def test_restarts_mid_grading_grade_every_submission_exactly_once(
    platform: Platform, http: httpx.AsyncClient, learner: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    everything: list[str] = []

    # 1. SIGTERM (Ctrl-C): the worker hands its jobs back to the queue, Redis writes its data out.
    round1 = await _mid_grading(platform, http, learner, fake_anthropic)
    everything += round1
    revoked1 = await _logged_out_token(http)
    assert platform.terminate() == 0, platform.tail()
    await _restart_and_check(platform, http, everything)
    assert (await http.get("/v1/me", headers=revoked1)).status_code == 401  # logout survived the restart

    # 2. SIGKILL of the whole group: no shutdown code at all; Redis comes back from its append-only file
    #    with the jobs still "active", and SAQ's sweep retries them once their heartbeat is stale.
    round2 = await _mid_grading(platform, http, learner, fake_anthropic)
    everything += round2
    revoked2 = await _logged_out_token(http)
    platform.kill_group()
    await _restart_and_check(platform, http, everything)
    assert (await http.get("/v1/me", headers=revoked2)).status_code == 401

    # 3. SIGKILL and Redis's data lost as well (what the embedded Redis used to do on every restart):
    #    only PostgreSQL knows these submissions are mid-grading; the stalled-submission sweep finds
    #    them by their stale heartbeat and grades each once more.
    round3 = await _mid_grading(platform, http, learner, fake_anthropic)
    everything += round3
    platform.kill_group()
    for name in ("appendonly.aof", "dump.rdb"):
        (platform.data_dir / "redis" / name).unlink(missing_ok=True)
    rows = await _restart_and_check(platform, http, everything)
    assert [rows[sid]["recoveries"] for sid in round3] == [1, 1, 1]


async def test_a_clean_stop_after_crashes_stops_everything(platform: Platform, http: httpx.AsyncClient) -> None:
    """After SIGKILLs, PostgreSQL survived (its own session) and was reused; a clean stop must still
    stop it (pgserver used to keep the killed runs' handles and never stop it again), and Redis must
    leave its snapshot behind."""
    assert platform.running()
    postmaster, redis = platform.postmaster_pid(), platform.redis_pid()
    assert platform.terminate() == 0, platform.tail()
    assert "lyceum: stopped" in platform.log()
    with pytest.raises(httpx.HTTPError):
        await http.get("/health", timeout=1)

    async def gone() -> bool:
        return not _pid_alive(postmaster) and not _pid_alive(redis)

    await until(gone, "PostgreSQL and Redis to stop with lyceum up", platform)
    assert (platform.data_dir / "redis" / "dump.rdb").is_file()
    assert (platform.data_dir / "redis" / "appendonly.aof").is_file()
