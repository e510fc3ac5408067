"""A loopback HTTP server for the test platform: handlers by (method, path), every request recorded.

Threaded stdlib server, independent of the event loop the tests and the app run on: the tool calls it
with real HTTP (httpx), exactly as it would call Canvas or Moodle.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    """One request the tool sent to the platform."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Handler = Callable[[Recorded], Reply]


class PlatformServer:
    """Routes plus a log. ``route(method, path, handler)`` (exact path; a later route replaces an earlier
    one, so a test can make an endpoint fail); ``requests(path)`` the recorded requests to a path."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._log: list[Recorded] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, method: str, path: str, handler: Handler) -> None:
        with self._lock:
            self._routes[(method.upper(), path)] = handler

    def requests(self, path: str | None = None, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self._log if (path is None or r.path == path) and (method is None or r.method == method)]

    def clear(self) -> None:
        with self._lock:
            self._log.clear()

    def _dispatch(self, recorded: Recorded) -> Reply:
        with self._lock:
            self._log.append(recorded)
            handler = self._routes.get((recorded.method, recorded.path))
        if handler is None:
            return Reply(404, {"error": "no such route on the test platform", "path": recorded.path})
        return handler(recorded)

    def start(self) -> PlatformServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = server._dispatch(recorded)
                payload = reply.body
                if isinstance(payload, dict | list):
                    payload = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    payload = payload.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # The tool hung up before the answer (a worker killed mid-post): the request was still
                    # handled, as a real platform would; there is no one left to answer.
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="lti-platform", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@contextmanager
def running_platform_server() -> Iterator[PlatformServer]:
    server = PlatformServer().start()
    try:
        yield server
    finally:
        server.stop()
