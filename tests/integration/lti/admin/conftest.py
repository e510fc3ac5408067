"""Fixtures of the LTI administration tests (this directory only): an app whose settings allow platform URLs
on loopback (LYCEUM_LTI_ALLOW_PRIVATE=1: the test platform runs on 127.0.0.1), its client, admin headers per
org, and a test platform server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.config import Settings
from tests.support.lti.server import PlatformServer, running_platform_server
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="module")
def lti_settings(settings: Settings) -> Settings:
    return replace(settings, lti_allow_private=True)


@pytest.fixture(scope="module")
async def lti_client(lti_settings: Settings, seeded: Any) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(lti_settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def strict_client(settings: Settings, seeded: Any) -> AsyncIterator[Client]:
    """An app with LYCEUM_LTI_ALLOW_PRIVATE off, as in production (the suite's settings turn it on)."""
    async with AsyncTestClient(app=create_app(replace(settings, lti_allow_private=False))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def demo_admin(lti_client: Client) -> dict[str, str]:
    return await auth_headers(lti_client, "admin@demo.test", "demo")


@pytest.fixture(scope="module")
async def acme_admin(lti_client: Client) -> dict[str, str]:
    return await auth_headers(lti_client, "admin@acme.test", "acme")


@pytest.fixture(scope="module")
def platform_server() -> Iterator[PlatformServer]:
    with running_platform_server() as server:
        yield server
