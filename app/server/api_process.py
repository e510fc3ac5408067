"""One of ``lyceum up``'s API processes: uvicorn's own command line, listening with ``SO_REUSEPORT``.

``python -m app.server.api_process <uvicorn arguments>`` runs exactly what ``python -m uvicorn <uvicorn
arguments>`` runs, except that the listening socket is bound here with ``SO_REUSEPORT`` (uvicorn has no
option for it). Several such processes on one host:port each hold their own listening socket and the
Linux kernel spreads new connections over the sockets that are listening, so each process is an ordinary
child of ``lyceum up``'s supervisor, restarted on its own while the others keep serving
(docs/decisions/0013-api-processes.md).

The socket is bound before the app starts but only listens once uvicorn has run the app's start-up
(lifespan): until then the kernel sends it no connections, so a process that is still starting, or
restarting, is never handed a client.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from app.config import Settings


def api_process_argv(settings: Settings, host: str, port: int) -> list[str]:
    """The command line of one API process, as ``lyceum up`` starts each of them."""
    from app.lib.sockets import uvicorn_ws_args

    return [
        sys.executable,
        "-m",
        "app.server.api_process",  # uvicorn, listening with SO_REUSEPORT beside its siblings
        "app.asgi:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        # Uvicorn's start-up lines repeat what the banner says; its warnings and errors still show.
        "--log-level",
        "debug" if settings.log_level.upper() == "DEBUG" else "warning",
        "--timeout-keep-alive",  # uvicorn's default (5 s) closes connections clients are about to reuse
        str(settings.http_keepalive_seconds),
        # WebSocket options (keep-alive pings, compression, frame limit): app/lib/sockets.py.
        *uvicorn_ws_args(settings),
    ]


def default_api_processes() -> int:
    """One API process per core this process may run on (its CPU affinity, which containers and
    ``taskset`` narrow), at least one."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def reuse_port_supported() -> bool:
    """Load-balancing ``SO_REUSEPORT`` (Linux 3.9+). BSD and macOS accept the option but hand every
    connection to one socket, so there ``lyceum up`` runs one API process."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _addresses(host: str, port: int) -> list[tuple[socket.AddressFamily, int, Any]]:
    """The (family, protocol, address) to bind for ``host``, as asyncio's create_server resolves it (a
    name such as ``localhost`` may give an IPv4 and an IPv6 address; both are bound)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    seen: set[tuple[socket.AddressFamily, Any]] = set()
    found: list[tuple[socket.AddressFamily, int, Any]] = []
    for family, _, proto, _, address in infos:
        if (family, address) not in seen:
            seen.add((family, address))
            found.append((family, proto, address))
    return found


def reuse_port_sockets(host: str, port: int) -> list[socket.socket]:
    """Bound (not yet listening) TCP sockets for host:port that other API processes may bind as well.

    The protocol is IPPROTO_TCP as getaddrinfo gives it, not 0: asyncio sets TCP_NODELAY only on
    sockets whose ``proto`` says TCP, and accepted connections inherit it from the listening socket
    (without it a small frame after another waits for the peer's delayed ACK, ~40 ms)."""
    sockets = []
    try:
        for family, proto, address in _addresses(host, port):
            sock = socket.socket(family, socket.SOCK_STREAM, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port_supported():
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.set_inheritable(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def port_in_use(host: str, port: int) -> OSError | None:
    """Why host:port cannot be served, or None. Probed with a socket that does *not* set SO_REUSEPORT:
    its bind fails while anything listens there, another ``lyceum up`` included, whose API processes
    this one's would otherwise silently join. (SO_REUSEADDR only lets it past connections of an earlier
    run still in TIME_WAIT.)"""
    try:
        for family, proto, address in _addresses(host, port):
            with socket.socket(family, socket.SOCK_STREAM, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
    except OSError as exc:
        return exc
    return None


class ReusePortServer(uvicorn.Server):
    """uvicorn's server, listening on this process's own SO_REUSEPORT sockets for config.host:port."""

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        if sockets is None:
            try:
                sockets = reuse_port_sockets(self.config.host, self.config.port)
            except OSError as exc:  # as uvicorn reports a failed bind: one line, start-up failure
                print(f"lyceum api: cannot listen on {self.config.host}:{self.config.port}: {exc}", file=sys.stderr)
                sys.exit(3)  # uvicorn's STARTUP_FAILURE
        super().run(sockets=sockets)


def main(argv: list[str] | None = None) -> None:
    # The module uvicorn.main (the package re-exports a function of the same name) builds its Server from
    # this attribute: everything else is uvicorn's own parsing of its command line (--ws-*, --factory ...).
    cli: Any = importlib.import_module("uvicorn.main")
    cli.Server = ReusePortServer
    cli.main.main(args=argv, prog_name="uvicorn")


if __name__ == "__main__":
    main()
