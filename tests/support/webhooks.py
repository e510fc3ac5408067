"""A webhook receiver for the tests: an HTTP server on 127.0.0.1 (a thread) that records every request and
verifies its Standard Webhooks signature with the ``standardwebhooks`` package's own verifier, as a
customer's receiver would. Its answers are scripted per path: a status (200 by default), or a redirect.
Receivers are idempotent by ``webhook-id``: ``unique_ids`` is what such a receiver would have processed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    verified: bool  # the signature checked out against the secret the receiver holds for ``path``
    payload: Any


@dataclass
class Receiver:
    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)  # path -> whsec_ secret
    statuses: dict[str, list[int]] = field(default_factory=dict)  # path -> answers to give, in order
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location of a 307
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def unique_ids(self, path: str) -> set[str]:
        return {r.headers["webhook-id"] for r in self.on(path) if r.verified}

    def _answer(self, path: str) -> int:
        with self.lock:
            queue = self.statuses.get(path)
            if queue:
                return queue.pop(0) if len(queue) > 1 else queue[0]
        return 200


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode()
            headers = {k.lower(): v for k, v in self.headers.items()}
            secret = receiver.secrets.get(self.path)
            verified, payload = False, None
            if secret is not None:
                try:
                    payload = Webhook(secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    payload = json.loads(body) if body.startswith("{") else None
            with receiver.lock:
                receiver.received.append(Received(self.path, headers, body, verified, payload))
            if self.path in receiver.redirects:
                self.send_response(307)
                self.send_header("Location", receiver.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = receiver._answer(self.path)
            reply = b'{"ok": true}' if status < 300 else b"receiver says no" * 4096  # over the read cap
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
