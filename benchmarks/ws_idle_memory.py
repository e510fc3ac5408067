"""Where an idle authenticated tutor WebSocket's bytes go: tracemalloc in the API process.

    uv run python benchmarks/ws_idle_memory.py [--sockets 500] [--top 25] [--frames 12]

Runs the API in this process under uvicorn (the WebSocket options of `lyceum up`, app/lib/sockets.py)
with tracemalloc on, and a driver in a child process that signs in and opens --sockets tutor WebSockets
on one session and leaves them idle. After a warm-up round (sockets opened and closed, so first-use
caches are not counted) it compares tracemalloc snapshots before and after the sockets are open and
prints the Python heap per socket, grouped by allocating line (top --top, with --frames of traceback
for the largest) and by file, beside the process's RSS per socket. Needs a migrated, seeded database:
DATABASE_URL/REDIS_URL (e.g. the scratch database a tutor_stream.py run left) or embedded servers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


DRIVER = r"""
import asyncio, json, sys
import httpx
from websockets.asyncio.client import connect

async def main(url, count):
    async with httpx.AsyncClient(timeout=60) as http:
        login = await http.post(f"{url}/v1/auth/login",
                                json={"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        course = (await http.get(f"{url}/v1/courses", headers=headers)).json()["items"][0]["id"]
        created = await http.post(f"{url}/v1/tutor/sessions", headers=headers, json={"course_id": course})
        session = created.json()["id"]
    ws_url = f"{url.replace('http', 'ws')}/v1/tutor/sessions/{session}/ws"
    for round_ in ("warm", "measure"):
        n = min(count, 100) if round_ == "warm" else count
        sockets = []
        for batch in range(0, n, 25):
            sockets += await asyncio.gather(*(
                connect(ws_url, additional_headers=headers, ping_interval=None, open_timeout=300)
                for _ in range(min(25, n - batch))
            ))
        print(json.dumps({"open": len(sockets)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for batch in range(0, len(sockets), 200):
            await asyncio.gather(*(ws.close() for ws in sockets[batch:batch + 200]))
        print(json.dumps({"closed": len(sockets)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import uvicorn

    from app.config import load_settings
    from app.lib.sockets import WS_PROTOCOL, server_max_frame_bytes
    from app.server.embedded import free_port

    settings = load_settings({k: v for k, v in os.environ.items() if k.startswith(("LYCEUM_", "DATABASE", "REDIS"))})
    port = free_port()
    config = uvicorn.Config(
        "app.asgi:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        ws=WS_PROTOCOL,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_interval_seconds,
        ws_per_message_deflate=settings.ws_compression,
        ws_max_size=server_max_frame_bytes(settings),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
        await asyncio.sleep(0.05)
    # Traced from here: start-up (imports, the guardrail classifier) under tracemalloc takes many minutes,
    # and only the difference between two snapshots taken later matters.
    tracemalloc.start(args.frames)
    driver = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        DRIVER,
        f"http://127.0.0.1:{port}",
        str(args.sockets),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert driver.stdin is not None
    assert driver.stdout is not None

    async def step() -> dict[str, int]:
        line = await asyncio.wait_for(driver.stdout.readline(), 600)  # type: ignore[union-attr]
        await asyncio.sleep(2)  # the last handshakes' tasks settle
        gc.collect()
        return dict(json.loads(line))

    async def go_on() -> None:
        driver.stdin.write(b"\n")  # type: ignore[union-attr]
        await driver.stdin.drain()  # type: ignore[union-attr]

    await step()  # warm-up sockets open
    await go_on()
    await step()  # closed
    base_snapshot, base_rss = tracemalloc.take_snapshot(), rss_kib()
    await go_on()
    opened = (await step())["open"]
    snapshot, rss = tracemalloc.take_snapshot(), rss_kib()
    await go_on()
    await step()
    await go_on()
    await driver.wait()
    server.should_exit = True
    await serving

    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    base_snapshot, snapshot = base_snapshot.filter_traces(filters), snapshot.filter_traces(filters)
    total = sum(s.size_diff for s in snapshot.compare_to(base_snapshot, "filename"))
    by_line = snapshot.compare_to(base_snapshot, "lineno")[: args.top]
    by_file = snapshot.compare_to(base_snapshot, "filename")[: args.top]
    by_trace = snapshot.compare_to(base_snapshot, "traceback")[: max(3, args.top // 3)]
    return {
        "sockets": opened,
        "rss_kib_per_socket": (rss - base_rss) / opened,
        "python_heap_kib_per_socket": total / 1024 / opened,
        "by_line": [
            {"where": str(s.traceback[0]), "bytes_per_socket": s.size_diff / opened, "blocks": s.count_diff / opened}
            for s in by_line
        ],
        "by_file": [{"file": s.traceback[0].filename, "bytes_per_socket": s.size_diff / opened} for s in by_file],
        "tracebacks": [
            {"bytes_per_socket": s.size_diff / opened, "traceback": [str(f) for f in s.traceback[-args.frames :]]}
            for s in by_trace
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--frames", type=int, default=12)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps({k: v for k, v in result.items() if k != "tracebacks"}, indent=1))
    print(
        f"\n{result['sockets']} idle sockets: RSS {result['rss_kib_per_socket']:.1f} KiB each, Python heap "
        f"{result['python_heap_kib_per_socket']:.1f} KiB each (tracemalloc)\n"
    )
    print("| allocated at | bytes per socket | blocks per socket |\n|---|---|---|")
    for row in result["by_line"]:
        where = row["where"].replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        print(f"| {where} | {row['bytes_per_socket']:.0f} | {row['blocks']:.1f} |")
    for trace in result["tracebacks"]:
        print(f"\n{trace['bytes_per_socket']:.0f} bytes per socket:")
        for frame in trace["traceback"]:
            print("   ", frame.replace(str(ROOT) + "/", "").split("site-packages/")[-1])


if __name__ == "__main__":
    main()
