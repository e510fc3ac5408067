"""Open Badges 3.0 credentials: signing, verification and status-list cost (issue 13 goals: >= 50
credentials issued/s per worker with both proofs, >= 500 verifies/s).

    uv run python -m benchmarks.credentials [--seconds 3] [--skip-issuance]

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
The full-service path (issuance job: database, key unsealing, status index allocation) is
``bench_issuance`` below, left for the coordinator to fill in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pyld import jsonld as pyld_jsonld  # type: ignore[import-untyped]

from app.lib.vc import jsonld
from app.lib.vc.credential import build_credential, identity_object
from app.lib.vc.did import did_web
from app.lib.vc.integrity import add_proof
from app.lib.vc.keys import SigningKey, generate_key
from app.lib.vc.statuslist import Bitstring, status_entry, status_list_credential
from app.lib.vc.vcjwt import sign_jwt
from app.lib.vc.verify import clear_caches, verify

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


async def bench_issuance(database_url: str | None = None, credentials: int = 500) -> dict[str, float]:
    """TODO(coordinator): the full-service path — the ``issue_credential`` job end to end against
    PostgreSQL (unseal the org key with the KEK, allocate a status index, build, sign both proofs, insert,
    publish ``CredentialIssued``) for ``credentials`` completed enrollments; report credentials/s per
    worker and the share of it spent in ``app/lib/vc`` (compare with ``issue_both_proofs`` above)."""
    raise NotImplementedError("bench_issuance is the coordinator's to add (needs app/domain/credentials)")


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
    options = parser.parse_args()
    _report(asyncio.run(measure_toolkit(options.seconds)))


if __name__ == "__main__":
    main()
