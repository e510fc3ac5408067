from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.oidc_provider import OidcProvider, running_oidc_provider


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[OidcProvider]:
    with running_oidc_provider() as provider:
        yield provider
