"""How long requests take when Redis hangs (accepts connections, never answers), and what writes answer.

    DATABASE_URL=postgresql://... uv run python benchmarks/redis_hung.py [--requests 5]

A healthy Redis (REDIS_URL, else the embedded one) is used to sign in; then a second app on the same
database is pointed at a "hung Redis": a TCP server on 127.0.0.1 that accepts every connection and never
sends a byte (a blackholed or wedged Redis; `DEBUG SLEEP` on a real server behaves the same). Requests
go in-process through the ASGI interface, one after another, so each figure is one request's own wait.
Prints a Markdown table for docs/architecture.md (failure modes).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import threading
import time
from typing import Any

import msgspec

from app.asgi import create_app
from app.config import load_settings
from benchmarks.stack import start_stack


class HungRedis:
    """Accepts TCP connections and reads whatever arrives, but never answers."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)

    def close(self) -> None:
        self._stop.set()
        for conn in self._open:
            conn.close()
        self._server.close()


async def call(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    status = 0
    response_headers: dict[str, str] = {}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.update({k.decode(): v.decode() for k, v in message["headers"]})

    await app(scope, receive, send)
    return status, response_headers


async def run(requests: int) -> list[tuple[str, str, str, str]]:
    bench = await start_stack("redis-hung")
    hung = HungRedis()
    rows: list[tuple[str, str, str, str]] = []
    try:
        healthy = create_app(bench.settings)
        async with healthy.lifespan():
            login = msgspec.json.encode({"email": "learner@demo.test", "password": "lyceum-demo", "org": "demo"})
            body = bytearray()

            async def grab(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body":
                    body.extend(message.get("body", b""))

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/v1/auth/login",
                "raw_path": b"/v1/auth/login",
                "query_string": b"",
                "root_path": "",
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(login)).encode())],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
                "state": {},
            }
            done = False

            async def receive() -> dict[str, Any]:
                nonlocal done
                if done:
                    await asyncio.sleep(3600)
                done = True
                return {"type": "http.request", "body": login, "more_body": False}

            await healthy(scope, receive, grab)  # type: ignore[arg-type]
            token = msgspec.json.decode(bytes(body))["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        env = {k: v for k, v in bench.env.items() if k.startswith(("LYCEUM_", "DATABASE", "REDIS", "ANTHROPIC"))}
        env["REDIS_URL"] = f"redis://127.0.0.1:{hung.port}/0"
        hung_app = create_app(load_settings(env))
        async with hung_app.lifespan():
            from sqlalchemy import text

            from app.db.engine import Database

            db = Database.from_settings(bench.settings)
            async with db.transaction(None) as session:
                org = await session.scalar(text("select lyceum_org_id_for_slug('demo')"))
            async with db.transaction(org) as session:
                course_id = await session.scalar(text("select id from courses order by slug limit 1"))
            await db.dispose()
            cases = [
                ("GET", f"/v1/courses/{course_id}", "GET /v1/courses/{id}"),
                ("GET", "/v1/courses", "GET /v1/courses"),
                ("GET", "/v1/me", "GET /v1/me"),
                ("POST", f"/v1/courses/{course_id}/enrollments", "POST /v1/courses/{id}/enrollments"),
            ]
            for method, path, label in cases:
                timings: list[float] = []
                statuses: set[str] = set()
                retry_after: set[str] = set()
                for _ in range(requests):
                    start = time.perf_counter()
                    status, headers = await call(hung_app, method, path, auth)
                    timings.append(time.perf_counter() - start)
                    statuses.add(str(status))
                    retry_after.add(headers.get("retry-after", "-"))
                rows.append(
                    (
                        label,
                        "/".join(sorted(statuses)),
                        f"{timings[0]:.2f} s first, {statistics.median(timings):.2f} s median, "
                        f"{max(timings):.2f} s max",
                        ",".join(sorted(retry_after)),
                    )
                )
    finally:
        hung.close()
        bench.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    rows = asyncio.run(run(args.requests))
    print("| request (Redis hung) | status | time | Retry-After |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
