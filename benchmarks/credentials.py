"""Open Badges 3.0 credentials: signing, verification and status-list cost (issue 13 goals: >= 50
credentials issued/s per worker with both proofs, >= 500 verifies/s).

    uv run python -m benchmarks.credentials [--seconds 3] [--credentials 300] [--skip-service]

Toolkit part (one process, no database; ``app/lib/vc``):

1. baseline         Ed25519 over the credential's compact JSON (``json.dumps`` + sign / verify): the floor
                    any signed format pays; every other figure is also given as a multiple of it.
   canonicalize_*   RDFC-1.0 of one credential: plain pyld with the same bundled files (its own caches) vs
                    ``app.lib.vc.jsonld.canonicalize`` without its result LRU (ratio against plain pyld).
2. issue_both       ``add_proof`` (eddsa-rdfc-2022: two RDFC-1.0 canonicalizations) + ``sign_jwt`` on a new
                    credential each time (distinct id, subject, dates: nothing is served from a cache).
3. verify_*         ``verify.verify`` with every check (format, signature, [claims], schema, issuer,
                    validity, status) and in-memory resolvers: ``cold`` = a credential this process never
                    saw (contexts already processed), ``warm`` = the same credential again (canonical form
                    and schema result from the LRU keyed by the SHA-256 of its canonical JSON).
4. first_call       the very first canonicalization in a fresh process (bundled contexts parsed and
                    processed): what the first request after a deploy pays once.
5. status_update    a 131,072-bit list with 100,000 entries handed out: set one bit, encode (gzip +
                    base64url) and sign the BitstringStatusListCredential (Data Integrity proof), for a
                    sparse list (1% revoked) and a worst case (half the bits set at random).

CPU figures are process CPU time per operation (``time.process_time``), wall figures per-operation wall
time; on this 2-core machine they should agree (all of it is CPU-bound Python and OpenSSL).
The full-service path (the issue_credential job with the database, key unsealing and status-index
allocation; verification and revocation over HTTP against a real API process) is ``bench_issuance``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pyld import jsonld as pyld_jsonld  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db.engine import owner_url
from app.domain.credentials.enqueue import enqueue_issue_credential
from app.lib.jobs import create_queue
from app.lib.vc import jsonld
from app.lib.vc.credential import build_credential, identity_object
from app.lib.vc.did import did_web
from app.lib.vc.integrity import add_proof
from app.lib.vc.keys import SigningKey, generate_key
from app.lib.vc.statuslist import Bitstring, status_entry, status_list_credential
from app.lib.vc.vcjwt import sign_jwt
from app.lib.vc.verify import clear_caches, verify
from benchmarks.stack import start_stack
from jobs.worker import create_worker

PUBLIC_URL = "https://lyceum.example.org"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _issuer() -> tuple[str, SigningKey, str]:
    did = did_web(PUBLIC_URL, "demo")
    key = SigningKey(f"{did}#key-20261130-{uuid.uuid4().hex[:8]}", generate_key())
    return did, key, f"{PUBLIC_URL}/orgs/demo/credentials/status/{uuid.uuid4()}"


def _credential(did: str, list_url: str, n: int) -> dict[str, Any]:
    return build_credential(
        credential_id=f"{PUBLIC_URL}/credentials/{uuid.uuid4()}",
        issuer={"id": did, "type": ["Profile"], "name": "Demo Academy", "url": PUBLIC_URL, "email": "hi@example.org"},
        achievement={
            "id": f"{PUBLIC_URL}/orgs/demo/achievements/backend-foundations",
            "type": ["Achievement"],
            "name": "Backend Foundations",
            "description": "Completed every lesson and passed every assessment of Backend Foundations.",
            "criteria": {"narrative": "Complete all 14 lessons and pass the 3 graded assessments."},
            "image": {"id": f"{PUBLIC_URL}/static/badges/backend-foundations.svg", "type": "Image"},
        },
        subject_id=f"urn:uuid:{uuid.uuid4()}",
        identity=identity_object(f"learner{n}@example.org", uuid.uuid4().hex[:16]),
        valid_from=NOW - timedelta(days=1, seconds=n),
        valid_until=None,
        status_entry=status_entry(list_url, n % 131072),
    )


def _rate(run: Callable[[int], object], seconds: float) -> dict[str, float]:
    """Operations per second (wall) and CPU ms per operation, running ``run(i)`` for ``seconds``."""
    done = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0 + seconds
    while time.perf_counter() < deadline:
        run(done)
        done += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"per_s": done / wall, "cpu_ms": 1000 * cpu / done, "n": float(done)}


async def _arate(run: Callable[[int], Any], seconds: float) -> dict[str, float]:
    done = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0 + seconds
    while time.perf_counter() < deadline:
        await run(done)
        done += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"per_s": done / wall, "cpu_ms": 1000 * cpu / done, "n": float(done)}


def _first_call_ms() -> float:
    """The first canonicalization in a fresh interpreter (imports excluded)."""
    code = (
        "import time\n"
        "from app.lib.vc.jsonld import canonicalize\n"
        "from benchmarks.credentials import _credential, _issuer\n"
        "did, key, url = _issuer(); c = _credential(did, url, 1)\n"
        "t = time.perf_counter(); canonicalize(c); print((time.perf_counter() - t) * 1000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


async def measure_toolkit(seconds: float = 3.0) -> dict[str, dict[str, float]]:
    did, key, list_url = _issuer()
    public: Ed25519PublicKey = key.private_key.public_key()

    async def resolve_key(kid: str) -> Ed25519PublicKey | None:
        return public if kid == key.kid else None

    async def resolve_status(entry: Mapping[str, Any]) -> bool | None:
        return False

    pool = [_credential(did, list_url, n) for n in range(400)]
    results: dict[str, dict[str, float]] = {}

    # 1. baseline: sign / verify the compact JSON
    def sign_baseline(i: int) -> None:
        key.private_key.sign(json.dumps(pool[i % len(pool)], separators=(",", ":")).encode())

    results["baseline_sign"] = _rate(sign_baseline, seconds)
    blob = json.dumps(pool[0], separators=(",", ":")).encode()
    signature = key.private_key.sign(blob)
    results["baseline_verify"] = _rate(lambda i: public.verify(signature, blob), seconds)

    # canonicalization alone: plain pyld (a loader serving the same bundled files, untagged, pyld's own
    # caches) against app.lib.vc.jsonld.canonicalize without its result LRU; both give the same N-Quads.
    def plain_loader(url: str, options: Any = None) -> dict[str, Any]:
        return {"contextUrl": None, "documentUrl": url, "document": jsonld.bundled_document(url)}

    plain_options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": plain_loader}
    plain_options["base"] = None
    if pyld_jsonld.normalize(pool[0], plain_options) != jsonld.canonicalize(pool[0], use_cache=False):
        raise AssertionError("optimised canonicalization differs from plain pyld")
    results["canonicalize_plain_pyld"] = _rate(
        lambda i: pyld_jsonld.normalize(pool[i % len(pool)], plain_options), seconds
    )
    results["canonicalize_lyceum"] = _rate(lambda i: jsonld.canonicalize(pool[i % len(pool)], use_cache=False), seconds)

    # 2. issue both proofs on fresh credentials
    fresh = iter(range(10**9))

    def issue(i: int) -> None:
        credential = _credential(did, list_url, next(fresh))
        sign_jwt(add_proof(credential, key, NOW), key)

    results["build_credential_only"] = _rate(lambda i: _credential(did, list_url, next(fresh)), seconds)
    results["issue_both_proofs"] = _rate(issue, seconds)
    results["issue_di_proof_only"] = _rate(
        lambda i: add_proof(_credential(did, list_url, next(fresh)), key, NOW), seconds
    )
    results["issue_jwt_only"] = _rate(lambda i: sign_jwt(_credential(did, list_url, next(fresh)), key), seconds)

    # 3. verification, full checks
    signed = [add_proof(credential, key, NOW) for credential in pool]
    tokens = [sign_jwt(credential, key) for credential in signed]
    # Never-seen inputs for the cold figures: more than the timed window can get through.
    cold_window = min(seconds, 2.0)
    unseen_signed = iter([add_proof(_credential(did, list_url, 10**6 + n), key, NOW) for n in range(1500)])
    unseen_tokens = iter([sign_jwt(_credential(did, list_url, 2 * 10**6 + n), key) for n in range(4000)])

    async def verify_one(value: Any) -> None:
        verified, checks = await verify(value, resolve_key=resolve_key, resolve_status=resolve_status, now=NOW)
        if not verified:
            raise AssertionError(checks)

    clear_caches()
    await verify_one(signed[0])  # contexts processed once; what follows is per-credential cost
    results["verify_di_cold"] = await _arate(lambda i: verify_one(next(unseen_signed)), cold_window)
    results["verify_di_warm"] = await _arate(lambda i: verify_one(signed[i % 50]), seconds)
    results["verify_jwt_cold"] = await _arate(lambda i: verify_one(next(unseen_tokens)), cold_window)
    results["verify_jwt_warm"] = await _arate(lambda i: verify_one(tokens[i % 50]), seconds)

    # 4. first call in a fresh process
    results["first_call"] = {"ms": _first_call_ms()}

    # 5. status list update: set a bit, encode, sign
    issuer = {"id": did, "type": ["Profile"], "name": "Demo Academy"}
    rng = random.Random(13)
    for label, revoked in (
        ("status_update_sparse", rng.sample(range(100_000), 1_000)),
        ("status_update_dense", rng.sample(range(131072), 65536)),
    ):
        bits = Bitstring(131072, revoked)
        latencies = []
        for _ in range(60):
            start = time.perf_counter()
            bits.set(rng.randrange(100_000))
            add_proof(status_list_credential(list_url, issuer, bits, NOW), key, NOW)
            latencies.append((time.perf_counter() - start) * 1000)
        latencies.sort()
        results[label] = {
            "p50_ms": statistics.median(latencies),
            "p95_ms": latencies[int(0.95 * len(latencies)) - 1],
            "encoded_bytes": float(len(bits.encode())),
        }
    return results


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (``/proc/<pid>/stat``), for per-request cost of the API process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _completed_enrollments(settings: Settings, count: int) -> tuple[UUID, list[UUID]]:
    """``count`` learners of the demo org who completed Backend Foundations (rows written as the owner,
    as a completion would leave them), ready for ``issue_credential``."""
    engine = create_async_engine(owner_url(settings.database_url))
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            org_id = (await conn.execute(text("select id from organizations where slug = 'demo'"))).scalar_one()
            course_id = (
                await conn.execute(
                    text("select id from courses where org_id = :o and slug = 'backend-foundations'"), {"o": org_id}
                )
            ).scalar_one()
            users = [
                {"id": uuid.uuid4(), "email": f"bench-{uuid.uuid4().hex[:12]}@demo.test", "now": now}
                for _ in range(count)
            ]
            await conn.execute(
                text(
                    "insert into users (id, email, name, is_active, token_version, created_at, updated_at) "
                    "values (:id, :email, 'Bench Learner', true, 0, :now, :now)"
                ),
                users,
            )
            await conn.execute(
                text(
                    "insert into memberships (id, org_id, user_id, role, created_at, updated_at) "
                    "values (gen_random_uuid(), :org, :id, 'learner', :now, :now)"
                ),
                [{**u, "org": org_id} for u in users],
            )
            enrollments = [
                {"id": uuid.uuid4(), "user": u["id"], "org": org_id, "course": course_id, "now": now} for u in users
            ]
            await conn.execute(
                text(
                    "insert into enrollments (id, org_id, user_id, course_id, status, completed_at, created_at, "
                    "updated_at) values (:id, :org, :user, :course, 'completed', :now, :now, :now)"
                ),
                enrollments,
            )
    finally:
        await engine.dispose()
    return org_id, [e["id"] for e in enrollments]


async def _issued_count(settings: Settings, enrollment_ids: list[UUID]) -> int:
    engine = create_async_engine(owner_url(settings.database_url))
    try:
        async with engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        text("select count(*) from credentials where enrollment_id = any(:ids)"),
                        {"ids": enrollment_ids},
                    )
                ).scalar_one()
            )
    finally:
        await engine.dispose()


async def _http_rate(
    url: str, seconds: float, concurrency: int, request: Callable[[httpx.AsyncClient, int], Any], pid: int
) -> dict[str, float]:
    """Requests/s from ``concurrency`` clients for ``seconds``, and the API process's CPU ms per request."""
    done = 0
    stop_at = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def loop(worker: int) -> None:
            nonlocal done
            i = worker
            while time.perf_counter() < stop_at:
                response = await request(client, i)
                if response.status_code != 200:
                    raise AssertionError(f"{response.status_code}: {response.text[:300]}")
                done += 1
                i += concurrency

        cpu0, started = _cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(loop(w) for w in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, _cpu_seconds(pid) - cpu0
    return {"per_s": done / elapsed, "api_cpu_ms": cpu * 1000 / max(done, 1), "requests": float(done)}


async def bench_issuance(
    credentials: int = 300, seconds: float = 5.0, concurrency: int = 16
) -> dict[str, dict[str, float]]:
    """The full-service path, in one run against embedded (or given) PostgreSQL and Redis:

    - ``noop_jobs``: ``credentials`` SAQ ``ping`` jobs through one in-process worker (the queue's floor);
    - ``issue_jobs``: ``credentials`` completed enrolments, each an ``issue_credential`` job on the same
      worker (unseal the org key, allocate a status index under the org's lock, build, schema-check, sign
      both proofs, insert, publish) → credentials/s per worker and the ratio to the no-op rate;
    - over HTTP against a real API process (uvicorn, ``concurrency`` clients): ``http_health`` (baseline),
      ``verify_*`` POST /v1/credentials/verify (embedded proof and VC-JWT; ``cold`` cycles through every
      issued credential once, ``warm`` repeats one), with the API's CPU ms per request;
    - ``revoke``: POST /v1/admin/credentials/{id}/revoke latency (re-signs the org's status list)."""
    bench = await start_stack(
        "credentials",
        LYCEUM_RATE_LIMIT_VERIFY_IP="1000000/1s",
        LYCEUM_RATE_LIMIT_VERIFY_GLOBAL="1000000/1s",
        LYCEUM_RATE_LIMIT_API_USER="1000000/1s",
    )
    settings, results = bench.settings, {}
    worker = create_worker(settings, handle_signals=False)
    worker_task = asyncio.create_task(worker.start())
    api: subprocess.Popen[bytes] | None = None
    try:
        org_id, enrollments = await _completed_enrollments(settings, credentials)
        queue = create_queue(settings)
        # The seed queued the demo courses' search indexing: let the worker finish it before timing.
        while await queue.count("queued") + await queue.count("active") > 0:  # noqa: ASYNC110 - polls Redis
            await asyncio.sleep(0.2)
        started = time.perf_counter()
        handles = [await queue.enqueue("ping", message=str(i)) for i in range(credentials)]
        for job in handles:
            assert job is not None
            await job.refresh(until_complete=120)
        results["noop_jobs"] = {"per_s": credentials / (time.perf_counter() - started)}
        cpu0, started = time.process_time(), time.perf_counter()
        for enrollment_id in enrollments:
            await enqueue_issue_credential(queue, settings, org_id, enrollment_id)
        while await _issued_count(settings, enrollments) < credentials:  # noqa: ASYNC110 - polls PostgreSQL
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        results["issue_jobs"] = {
            "per_s": credentials / elapsed,
            "cpu_ms": (time.process_time() - cpu0) * 1000 / credentials,
            "x_noop": credentials / elapsed / results["noop_jobs"]["per_s"],
        }
        await queue.disconnect()
        await worker.stop()

        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        api = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is timed
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.asgi:create_app",
                "--factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=bench.env,
        )
        await _wait_healthy(url, api)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            login = {"email": "admin@demo.test", "password": "lyceum-demo", "org": "demo"}
            token = (await client.post("/v1/auth/login", json=login)).json()["access_token"]
            admin = {"Authorization": f"Bearer {token}"}
            issued: list[dict[str, Any]] = []
            offset = 0
            while True:
                page = (
                    await client.get("/v1/admin/credentials", headers=admin, params={"limit": 100, "offset": offset})
                ).json()
                issued += page["items"]
                offset += 100
                if offset >= page["total"]:
                    break
            bodies = []
            for item in issued[:credentials]:
                share = (await client.get(f"/v1/credentials/{item['id']}")).json()
                bodies.append(share)
        documents = [{"credential": b["credential"]} for b in bodies]
        jwts = [{"jwt": b["jwt"]} for b in bodies]
        pid = api.pid

        def post(body: Callable[[int], dict[str, Any]]) -> Callable[[httpx.AsyncClient, int], Any]:
            return lambda client, i: client.post("/v1/credentials/verify", json=body(i))

        results["http_health"] = await _http_rate(url, seconds, concurrency, lambda c, i: c.get("/health"), pid)
        cold = min(seconds, 2.0)  # short: the cold pass must not wrap round to credentials already seen
        results["verify_di_cold"] = await _http_rate(
            url, cold, concurrency, post(lambda i: documents[i % len(documents)]), pid
        )
        results["verify_di_warm"] = await _http_rate(url, seconds, concurrency, post(lambda i: documents[0]), pid)
        results["verify_jwt_cold"] = await _http_rate(url, cold, concurrency, post(lambda i: jwts[i % len(jwts)]), pid)
        results["verify_jwt_warm"] = await _http_rate(url, seconds, concurrency, post(lambda i: jwts[0]), pid)
        latencies = []
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for item in issued[-20:]:
                t0 = time.perf_counter()
                answer = await client.post(
                    f"/v1/admin/credentials/{item['id']}/revoke", headers=admin, json={"reason": "benchmark"}
                )
                latencies.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200, answer.text
        latencies.sort()
        results["revoke"] = {
            "p50_ms": statistics.median(latencies),
            "p95_ms": latencies[int(0.95 * len(latencies)) - 1],
        }
    finally:
        if api is not None:
            api.terminate()
            api.wait(10)
        await worker.stop()
        worker_task.cancel()
        await asyncio.gather(worker_task, return_exceptions=True)
        bench.stop()
    return results


async def _wait_healthy(url: str, api: subprocess.Popen[bytes], seconds: float = 180.0) -> None:
    """The API answers /health (start-up is slow on a busy machine: it loads the search index's model)."""
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=2) as client:
        while time.perf_counter() < deadline:
            if api.poll() is not None:
                raise SystemExit(f"the API process exited with {api.returncode}")
            try:
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not become healthy within {seconds:g} s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _report_service(results: dict[str, dict[str, float]]) -> None:
    print()
    noop, issue = results["noop_jobs"]["per_s"], results["issue_jobs"]
    print(
        f"SAQ no-op jobs: {noop:,.0f}/s; issue_credential jobs: {issue['per_s']:,.1f}/s per worker "
        f"({issue['x_noop']:.2f}x no-op; worker process CPU {issue['cpu_ms']:.1f} ms per credential); "
        f"goal >= 50/s: {'met' if issue['per_s'] >= 50 else 'NOT met'}"
    )
    base = results["http_health"]
    print(f"{'HTTP':<18} {'req/s':>9} {'API CPU ms/req':>15} {'x /health req/s':>16}")
    for name in ("http_health", "verify_di_cold", "verify_di_warm", "verify_jwt_cold", "verify_jwt_warm"):
        figures = results[name]
        print(
            f"{name:<18} {figures['per_s']:>9,.0f} {figures['api_cpu_ms']:>15.2f} "
            f"{figures['per_s'] / base['per_s']:>15.3f}x"
        )
    print(
        f"revoke (re-sign the status list): p50 {results['revoke']['p50_ms']:.1f} ms, "
        f"p95 {results['revoke']['p95_ms']:.1f} ms"
    )


def _report(results: dict[str, dict[str, float]]) -> None:
    """Wall rates swing with whatever else runs on the machine; CPU per operation (and the rate one fully
    used core would reach, 1000 / CPU ms) is the figure to compare between runs."""
    sign_cpu = results["baseline_sign"]["cpu_ms"]
    verify_cpu = results["baseline_verify"]["cpu_ms"]
    print(f"{'operation':<24} {'wall /s':>9} {'CPU ms/op':>10} {'/s per core':>12} {'x baseline':>11}")
    for name, figures in results.items():
        if "per_s" not in figures:
            continue
        base = verify_cpu if name.startswith(("verify", "baseline_verify")) else sign_cpu
        if name.startswith("canonicalize"):
            base = results["canonicalize_plain_pyld"]["cpu_ms"]
        cpu = figures["cpu_ms"]
        print(f"{name:<24} {figures['per_s']:>9,.0f} {cpu:>10.3f} {1000 / cpu:>12,.0f} {cpu / base:>10.2f}x")
    print()
    print(f"first canonicalization in a fresh process: {results['first_call']['ms']:.1f} ms")
    for name in ("status_update_sparse", "status_update_dense"):
        figures = results[name]
        print(
            f"{name}: p50 {figures['p50_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms "
            f"(encodedList {figures['encoded_bytes']:,.0f} bytes)"
        )

    def per_core(name: str) -> float:
        return 1000 / results[name]["cpu_ms"]

    print()
    issue = per_core("issue_both_proofs")
    print(
        f"goal >= 50 issued/s per worker (both proofs): {issue:,.0f}/s per core ({'met' if issue >= 50 else 'NOT met'})"
    )
    print(
        "goal >= 500 verifies/s, per core: "
        + ", ".join(
            f"{name.removeprefix('verify_')} {per_core(name):,.0f}/s"
            for name in ("verify_di_cold", "verify_di_warm", "verify_jwt_cold", "verify_jwt_warm")
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each timed mode (default 3)")
    parser.add_argument("--credentials", type=int, default=300, help="credentials issued by the service part")
    parser.add_argument("--skip-service", action="store_true", help="toolkit only (no PostgreSQL/Redis/API)")
    options = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("saq").setLevel(logging.WARNING)
    _report(asyncio.run(measure_toolkit(options.seconds)))
    if not options.skip_service:
        _report_service(asyncio.run(bench_issuance(options.credentials, options.seconds)))


if __name__ == "__main__":
    main()
