"""The suite's HTTP test client keeps the test's event loop running while a request is served.

Litestar's ``AsyncTestClient`` serves each request on its own portal thread but waits for the answer
*synchronously* (``TestClientTransport.handle_async_request`` calls the blocking ``handle_request``), so the
test's event loop stops for the whole request. Everything else on that loop stops with it: the in-process
SAQ workers of tests/support/grading.py, database transactions they hold, Redis reads. A request that needs
a row lock such a worker holds then waits for a transaction that cannot move until the request returns: it
waits out asyncpg's 30 s command timeout and answers 503 (the final-grade webhook test met this in every
full run from stop 28 on: a session worker was delivering to the test's endpoint, locked, when the test
changed it). Production never runs this way: API and worker each have their own loop.

``NonBlockingTransport`` serves the same request from a worker thread and awaits it, so the test's loop
keeps running meanwhile. ``install`` puts it in place of Litestar's transport for every ``AsyncTestClient``
the suite creates (tests/conftest.py calls it once, before any client exists).
"""

from __future__ import annotations

import asyncio

import litestar.testing.client.async_client as async_client
from httpx import Request, Response
from litestar.testing.transport import TestClientTransport


class NonBlockingTransport(TestClientTransport):  # type: ignore[type-arg]
    async def handle_async_request(self, request: Request) -> Response:
        return await asyncio.to_thread(self.handle_request, request)


def install() -> None:
    async_client.TestClientTransport = NonBlockingTransport  # type: ignore[misc]
