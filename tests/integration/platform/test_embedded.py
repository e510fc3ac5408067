"""The embedded Redis keeps its data in the data dir; the embedded PostgreSQL is stopped by its last user.

Regression tests for issue 9: the embedded Redis persisted nothing (``config get save`` was empty, no
``dump.rdb`` after a clean stop), so a logged-out token worked again after a restart and queued jobs
vanished; and after a SIGKILL of ``lyceum up`` pgserver never stopped PostgreSQL again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.lib.jobs import LyceumQueue
from app.server.embedded import EmbeddedPostgres, EmbeddedRedis, free_port


@pytest.fixture
def servers() -> Iterator[list[EmbeddedRedis]]:
    started: list[EmbeddedRedis] = []
    yield started
    for server in started:
        server.stop()


def _start(servers: list[EmbeddedRedis], data_dir: Path, *, persist: bool = True) -> redis.Redis:
    server = EmbeddedRedis(data_dir, persist=persist)
    servers.append(server)
    server.start()
    return redis.Redis(port=server.port)


def test_persistent_redis_has_save_points_and_an_append_only_file(tmp_path: Path, servers: list[EmbeddedRedis]) -> None:
    client = _start(servers, tmp_path)
    assert client.config_get("save")["save"] != ""
    assert client.config_get("appendonly")["appendonly"] == "yes"
    assert client.config_get("appendfsync")["appendfsync"] == "everysec"
    assert Path(str(client.config_get("dir")["dir"])) == (tmp_path / "redis").resolve()
    client.close()


def test_clean_stop_writes_a_snapshot_and_a_restart_keeps_the_data(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    client = _start(servers, tmp_path)
    client.set("deny:jti:abc", "1", ex=900)
    client.close()
    servers[0].stop()
    assert (tmp_path / "redis" / "dump.rdb").is_file()
    assert (tmp_path / "redis" / "appendonly.aof").is_file()
    again = _start(servers, tmp_path)
    assert again.get("deny:jti:abc") == b"1"
    assert 0 < again.ttl("deny:jti:abc") <= 900
    again.close()


def test_sigkill_loses_nothing_that_was_acknowledged(tmp_path: Path, servers: list[EmbeddedRedis]) -> None:
    client = _start(servers, tmp_path)
    client.set("queued-job", "payload")
    client.close()
    process = servers[0]._process
    assert process is not None
    process.send_signal(signal.SIGKILL)  # no shutdown, no final save: only the append-only file
    process.wait()
    servers[0]._process = None
    again = _start(servers, tmp_path)
    assert again.get("queued-job") == b"payload"
    again.close()


def test_a_snapshot_only_data_dir_is_loaded_and_gets_an_append_only_file(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    # A data dir written without the append-only file (or a dump.rdb restored from a backup).
    port = free_port()
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    old = subprocess.Popen(
        [EmbeddedRedis.binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(redis_dir), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(600):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                os.sched_yield()
        client.set("from-the-snapshot", "yes")
        client.save()
        client.close()
    finally:
        old.terminate()
        old.wait()
    assert not (redis_dir / "appendonly.aof").exists()
    adopted = _start(servers, tmp_path)
    assert adopted.get("from-the-snapshot") == b"yes"
    assert adopted.config_get("appendonly")["appendonly"] == "yes"
    assert (redis_dir / "appendonly.aof").is_file()
    adopted.close()


def test_a_leftover_server_on_the_data_dir_is_stopped_before_a_new_one_starts(
    tmp_path: Path, servers: list[EmbeddedRedis]
) -> None:
    client = _start(servers, tmp_path)
    client.set("written-by-the-first", "1")
    client.close()
    leftover = servers[0]._process
    assert leftover is not None
    servers[0]._process = None  # forgotten, as if its `lyceum up` had died without stopping it
    second = _start(servers, tmp_path)
    assert leftover.wait(timeout=60) == 0  # stopped with SIGTERM: it saved and exited cleanly
    assert second.get("written-by-the-first") == b"1"
    second.close()


def test_throwaway_redis_keeps_nothing(tmp_path: Path, servers: list[EmbeddedRedis]) -> None:
    client = _start(servers, tmp_path, persist=False)
    assert client.config_get("save")["save"] == ""
    assert client.config_get("appendonly")["appendonly"] == "no"
    client.close()


def test_postgres_forgets_handles_of_processes_that_died(tmp_path: Path) -> None:
    """pgserver stops PostgreSQL only when its last handle closes; a SIGKILLed `lyceum up` left its
    handle behind, so PostgreSQL was never stopped again. Dead ids are dropped before starting."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = os.getppid()
    server = EmbeddedPostgres(tmp_path)
    server.pgdata.mkdir(parents=True)
    handles = server.pgdata / ".handle_pids.json"
    handles.write_text(json.dumps([dead.pid, alive]))
    server._forget_dead_handles()
    assert json.loads(handles.read_text()) == [alive]


async def test_worker_fetch_waits_instead_of_spinning_when_redis_is_unreachable() -> None:
    queue = LyceumQueue.from_url(f"redis://127.0.0.1:{free_port()}/0", name="unreachable")
    try:
        assert await queue.dequeue(timeout=1) is None  # no exception for SAQ's loop to retry at once
        assert queue._dequeue_backoff > 0
    finally:
        with contextlib.suppress(redis.RedisError):  # nothing to disconnect from
            await queue.disconnect()
