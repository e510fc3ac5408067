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

- When the pong deadline is the next ping (``--ws-ping-timeout`` equal to ``--ws-ping-interval``, as
  ``lyceum up`` sets them), one timer per socket does both jobs: a ping still unanswered when the next one
  is due has timed out. Uvicorn arms a second timer per ping for the deadline and cancels it when the pong
  comes: with thousands of idle sockets that is twice the timer churn on the event loop's heap.

Overridden: ``start_keepalive`` (called once, when the handshake is sent) and ``send_keepalive_ping``.
"""

from __future__ import annotations

import random
import struct

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class LyceumWebSocketProtocol(WebSocketsSansIOProtocol):
    def start_keepalive(self) -> None:
        # The handshake response has just been written: the request/response objects are done with.
        self.request = self.response = None  # type: ignore[assignment]
        if self.ping_interval is not None and self.ping_interval > 0:
            # A uniform offset in (0, interval]: sockets opened at the same instant are pinged apart.
            first = self.ping_interval * (1.0 - random.random())  # noqa: S311 - spreading timers, not a secret
            self.ping_timer = self.loop.call_later(first, self.send_keepalive_ping)

    def send_keepalive_ping(self) -> None:
        if self.ping_interval is None or self.ping_timeout != self.ping_interval:
            super().send_keepalive_ping()
            return
        self.ping_timer = None
        if self.close_sent or self.transport.is_closing():
            return
        if self.pending_ping_payload is not None:  # the previous ping went unanswered for a whole interval
            self.keepalive_timeout()
            return
        # As uvicorn does: a random payload identifies this ping, so a stale or unsolicited pong is ignored.
        self.pending_ping_payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at = self.loop.time()
        self.conn.send_ping(self.pending_ping_payload)
        self.transport.write(b"".join(self.conn.data_to_send()))
        # No pong timer: uvicorn's handle_pong only re-arms a ping when one is set, so this timer stays the
        # socket's only one.
        self.ping_timer = self.loop.call_later(self.ping_interval, self.send_keepalive_ping)
