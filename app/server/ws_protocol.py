"""Uvicorn's ``websockets-sansio`` WebSocket protocol with staggered keep-alive pings and a leaner idle socket.

``lyceum up`` passes this class to uvicorn (``--ws app.server.ws_protocol:LyceumWebSocketProtocol``,
app/lib/sockets.py ``uvicorn_ws_args``). Two changes, both for the many idle sockets of learners who keep
the tutor panel open:

- Uvicorn pings each socket every ``--ws-ping-interval`` seconds counted from its handshake, so sockets
  opened together (a class starting at nine, a reconnect wave after a deploy) are pinged together, for
  ever: a burst of thousands of pings and pongs every interval. The first ping here comes at a random
  point of the first interval; the next ones follow at the interval, so the pings stay spread out.
- After the handshake the protocol keeps the upgrade request and the prepared response (their headers
  and bodies), which nothing reads again: they are dropped.

Only the keep-alive start is overridden (``start_keepalive``, called once, when the handshake is sent).
"""

from __future__ import annotations

import random

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class LyceumWebSocketProtocol(WebSocketsSansIOProtocol):
    def start_keepalive(self) -> None:
        # The handshake response has just been written: the request/response objects are done with.
        self.request = self.response = None  # type: ignore[assignment]
        if self.ping_interval is not None and self.ping_interval > 0:
            # A uniform offset in (0, interval]: sockets opened at the same instant are pinged apart.
            first = self.ping_interval * (1.0 - random.random())  # noqa: S311 - spreading timers, not a secret
            self.ping_timer = self.loop.call_later(first, self.send_keepalive_ping)
