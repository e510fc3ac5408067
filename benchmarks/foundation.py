"""Foundation benchmark: what the full stack and the rate limiter cost, as ratios measured in one run.

    uv run python benchmarks/foundation.py [--seconds 3] [--rounds 3] [--concurrency 16]

(a) a bare Litestar JSON route (same process, same driver)
(b) GET /v1/courses/{id} through the full stack: JWT + Redis denylist, Redis cache, the caller's enrollment
    under RLS (since issue 15 one statement, lyceum_read_enrollment, that sets the tenant and reads)
(c) the same route with the rate limiter on (three buckets per request; the decisions of one event-loop
    tick share one EVALSHA since issue 15)
(d) limiter decisions/s from one process against the same Redis (benchmarks/limiter.py)

Requests are driven in-process straight through the ASGI interface (no HTTP client in the way, so the
ratios measure the application, not the driver). Each round interleaves short slices of a, b and c so
machine noise hits all three alike; the median round is reported. Uses DATABASE_URL/REDIS_URL when
set, else the embedded servers in a temporary directory. Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from litestar import Litestar, get

from app.asgi import create_app
from app.config import load_settings
from app.db.bootstrap import migrate
from app.seed import seed
from app.server.embedded import EmbeddedStack
from benchmarks.limiter import measure_limiter

ROOT = Path(__file__).resolve().parents[1]
SLICES = 10


def bare_app() -> Litestar:
    @get("/bare")
    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[bare])


async def asgi_get(app: Any, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status = 0
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(body)


async def asgi_post_json(app: Any, path: str, payload: bytes) -> bytes:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    body = bytearray()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return bytes(body)


def cpu_seconds() -> float:
    """This process's user + system CPU time (what /proc/self/stat counts): stable on a loaded machine,
    where wall-clock rates swing with whatever else runs."""
    times = os.times()
    return times.user + times.system


async def throughput(
    app: Any, path: str, headers: dict[str, str], seconds: float, concurrency: int, cpu: list[float] | None = None
) -> float:
    """Requests/s; appends (CPU seconds, requests) of the slice to ``cpu`` when given."""
    done = 0
    deadline = time.perf_counter() + seconds
    cpu_start = cpu_seconds()

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            status, _ = await asgi_get(app, path, headers)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if cpu is not None:
        cpu += [cpu_seconds() - cpu_start, done]
    return done / (time.perf_counter() - start)


async def run(seconds: float, rounds: int, concurrency: int) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="lyceum-bench-"))
    stack = EmbeddedStack(data_dir, persist=False)
    database_url, redis_url = stack.start(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""))
    try:
        common = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "LYCEUM_DATA_DIR": str(data_dir),
            "LYCEUM_LOG_LEVEL": "ERROR",
            "LYCEUM_CONTENT_DIR": str(ROOT / "content"),
            "LYCEUM_REDIS_KEY_PREFIX": f"bench:{os.getpid()}:",
            # Limits far above the offered load: we measure the cost of deciding, not refusals.
            "LYCEUM_RATE_LIMIT_API_USER": "100000000/1s",
            "LYCEUM_RATE_LIMIT_API_ORG": "100000000/1s",
            "LYCEUM_RATE_LIMIT_API_GLOBAL": "100000000/1s",
        }
        settings_off = load_settings({**common, "LYCEUM_RATE_LIMIT_ENABLED": "false"})
        settings_on = load_settings({**common, "LYCEUM_RATE_LIMIT_ENABLED": "true"})
        await migrate(settings_off)
        await seed(settings_off)
        bare, full_off, full_on = bare_app(), create_app(settings_off), create_app(settings_on)
        results: dict[str, list[float]] = {"a": [], "b": [], "c": []}
        cpu_us: dict[str, list[float]] = {"a": [], "b": [], "c": []}  # CPU per request, per round
        async with bare.lifespan(), full_off.lifespan(), full_on.lifespan():
            import msgspec

            login = msgspec.json.encode({"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"})
            token = msgspec.json.decode(await asgi_post_json(full_off, "/v1/auth/login", login))["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            _, listing = await asgi_get(full_off, "/v1/courses", auth)
            course_id = msgspec.json.decode(listing)["items"][0]["id"]
            path = f"/v1/courses/{course_id}"
            for app in (bare, full_off, full_on):  # warm caches, pools and the script cache
                await throughput(app, "/bare" if app is bare else path, auth, 0.5, concurrency)
            # Many short interleaved slices: slow drifts in machine load (other processes on 2 cores)
            # then fall on a, b and c alike instead of on whichever ran during the disturbance.
            targets = {"a": (bare, "/bare", {}), "b": (full_off, path, auth), "c": (full_on, path, auth)}
            for _ in range(rounds):
                totals = {k: [0.0, 0.0] for k in targets}
                cpu_totals: dict[str, list[float]] = {k: [] for k in targets}
                for _ in range(SLICES):
                    for name, (app, target, headers) in targets.items():
                        rate = await throughput(app, target, headers, seconds / SLICES, concurrency, cpu_totals[name])
                        totals[name][0] += rate * seconds / SLICES
                        totals[name][1] += seconds / SLICES
                for name, (done, spent) in totals.items():
                    results[name].append(done / spent)
                    used, count = sum(cpu_totals[name][0::2]), sum(cpu_totals[name][1::2])
                    cpu_us[name].append(used * 1e6 / max(1.0, count))
        limiter = await measure_limiter(redis_url, seconds)
    finally:
        stack.stop()
    median = {k: statistics.median(v) for k, v in results.items()}
    cpu = {k: statistics.median(v) for k, v in cpu_us.items()}
    return {
        "a_bare_rps": median["a"],
        "b_full_stack_rps": median["b"],
        "c_with_limiter_rps": median["c"],
        "b_over_a": median["b"] / median["a"],
        "c_over_b": median["c"] / median["b"],
        "c_over_b_worst_round": min(c / b for b, c in zip(results["b"], results["c"], strict=True)),
        # The same ratios from CPU per request (the process's user+sys time over the slices' requests; it
        # includes the driver's share, which is the same for a, b and c): a figure that holds on a busy machine.
        "a_cpu_us_per_request": cpu["a"],
        "b_cpu_us_per_request": cpu["b"],
        "c_cpu_us_per_request": cpu["c"],
        "b_over_a_by_cpu": cpu["a"] / cpu["b"],
        "c_over_b_by_cpu": cpu["b"] / cpu["c"],
        **{f"limiter_{k}": v for k, v in limiter.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    figures = asyncio.run(run(args.seconds, args.rounds, args.concurrency))
    print("| measure | value |\n|---|---|")
    for key, value in figures.items():
        print(f"| {key} | {value:,.3f} |" if value < 10 else f"| {key} | {value:,.0f} |")
    print(
        f"\nb/a = {figures['b_over_a']:.3f} (goal >= 0.05); c/b = {figures['c_over_b']:.3f} (goal >= 0.90); "
        f"limiter pipelined = {figures.get('limiter_pipelined_200_per_s', 0):,.0f}/s (goal >= 20,000)"
    )


if __name__ == "__main__":
    main()
