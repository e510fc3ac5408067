"""`lyceum up`'s API processes: how many, and the shared port they listen on (issue 15, item 3). The
processes themselves are tested in tests/integration/platform/test_api_processes.py."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from app.cli import api_process_count
from app.config import Settings, load_settings
from app.server.api_process import default_api_processes, port_in_use, reuse_port_sockets
from app.server.embedded import free_port

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing is Linux's")


@linux_only
def test_one_api_process_per_core_unless_told_otherwise(tmp_path: Path) -> None:
    def settings(**env: str) -> Settings:
        return load_settings({"LYCEUM_DATA_DIR": str(tmp_path), **env})

    assert api_process_count(None, settings()) == default_api_processes()
    assert api_process_count(None, settings(LYCEUM_API_WORKERS="0")) == default_api_processes()
    assert api_process_count(None, settings(LYCEUM_API_WORKERS="3")) == 3
    assert api_process_count(1, settings(LYCEUM_API_WORKERS="3")) == 1  # --workers wins
    with pytest.raises(SystemExit):
        api_process_count(-1, settings())


@linux_only
def test_processes_share_a_port_and_the_kernel_spreads_connections() -> None:
    """The mechanism `lyceum up` relies on, without starting an API: two SO_REUSEPORT listeners on one
    port both receive connections, and while they listen the port counts as in use for anyone else
    (another `lyceum up` refuses to start instead of silently joining)."""
    port = free_port()
    listeners = [reuse_port_sockets("127.0.0.1", port)[0] for _ in range(2)]
    try:
        for listener in listeners:
            listener.listen(64)
            listener.setblocking(False)
        assert port_in_use("127.0.0.1", port) is not None
        accepted = [0, 0]
        clients = []
        # 64 connections from distinct source ports: the chance that a working hash sends all to one
        # socket is 2 * 2**-64.
        for _ in range(64):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            for n, listener in enumerate(listeners):
                try:
                    listener.accept()[0].close()
                    accepted[n] += 1
                except BlockingIOError:
                    pass
        deadline = time.monotonic() + 30
        while sum(accepted) < len(clients) and time.monotonic() < deadline:
            for n, listener in enumerate(listeners):
                try:
                    listener.accept()[0].close()
                    accepted[n] += 1
                except BlockingIOError:
                    time.sleep(0.01)
        for client in clients:
            client.close()
        assert sum(accepted) == len(clients)
        assert min(accepted) > 0, accepted
    finally:
        for listener in listeners:
            listener.close()
    assert port_in_use("127.0.0.1", port) is None
