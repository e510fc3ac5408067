"""API memory while unauthenticated WebSocket clients send huge frames.

    uv run python benchmarks/ws_frame_memory.py [--sockets 10] [--frame-mib 15] [--no-ws-max-size]

Starts the API under uvicorn as `lyceum up` does (``--ws-max-size`` from ``server_max_frame_bytes``;
``--no-ws-max-size`` leaves uvicorn's 16 MiB default, as a deployment that forgot the flag), signs in
once (argon2id's 64 MiB is then part of the idle figure), then opens ``--sockets`` tutor WebSockets
without a token, each sending one ``--frame-mib`` MiB text frame at the same time. Prints the API
process's resident memory before, its peak (sampled every 20 ms) and after, and the close codes the
clients got. Uses DATABASE_URL/REDIS_URL when set, else embedded servers in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.lib.sockets import server_max_frame_bytes
from app.server.embedded import free_port
from benchmarks.stack import start_stack, wait_healthy

ROOT = Path(__file__).resolve().parents[1]


def rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no VmRSS (Linux only)")


async def flood(url: str, sockets: int, frame: str, pid: int) -> tuple[int, list[str]]:
    """Send the frames; return the peak RSS seen meanwhile and what the clients got."""
    outcomes: list[str] = []
    peak = rss_mib(pid)
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mib(pid))
            await asyncio.sleep(0.02)

    async def one() -> None:
        try:
            async with connect(url, max_size=None, open_timeout=60, close_timeout=30) as ws:
                await ws.send(frame)
                await asyncio.wait_for(ws.recv(), 60)
        except ConnectionClosed as exc:
            outcomes.append(f"{exc.rcvd.code} {exc.rcvd.reason[:60]}" if exc.rcvd else "closed without a code")
        except Exception as exc:  # a benchmark reports whatever the client saw
            outcomes.append(repr(exc)[:80])

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(one() for _ in range(sockets)))
    done.set()
    await sampler
    return peak, sorted(set(outcomes))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    bench = asyncio.run(start_stack("ws-frames"))
    port = free_port()
    limit = [] if args.no_ws_max_size else ["--ws-max-size", str(server_max_frame_bytes(bench.settings))]
    command = [sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--port", str(port)]
    api = subprocess.Popen(
        [*command, "--log-level", "warning", "--ws", "websockets-sansio", *limit], env=bench.env, cwd=ROOT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        login = {"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"}
        httpx.post(f"{base}/v1/auth/login", json=login, timeout=30).raise_for_status()
        time.sleep(1)  # let the login's argon2id memory settle into the idle figure
        before = rss_mib(api.pid)
        url = f"ws://127.0.0.1:{port}/v1/tutor/sessions/{uuid.uuid4()}/ws"
        frame = "x" * (args.frame_mib * 1024 * 1024)
        peak, outcomes = asyncio.run(flood(url, args.sockets, frame, api.pid))
        time.sleep(1)
        return {
            "ws_max_size": limit[1] if limit else "uvicorn default (16 MiB)",
            "sockets": args.sockets,
            "frame_mib": args.frame_mib,
            "rss_before_mib": before,
            "rss_peak_mib": peak,
            "rss_after_mib": rss_mib(api.pid),
            "closes": outcomes,
        }
    finally:
        api.terminate()
        api.wait(15)
        bench.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=10)
    parser.add_argument("--frame-mib", type=int, default=15)
    parser.add_argument("--no-ws-max-size", action="store_true", help="leave uvicorn's 16 MiB default")
    print(json.dumps(measure(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
