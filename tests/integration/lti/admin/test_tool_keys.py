"""The tool's public keys (issue 14 §1): ``GET /lti/jwks.json`` publishes the active key and keys retired
within LYCEUM_LTI_KEY_GRACE_DAYS; ``lyceum lti rotate-key`` rotates. A retired key disappears after the
grace period (its retirement is moved back in time rather than waiting)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.integration.credentials.issuer_helpers import owner_execute

Client = AsyncTestClient[Litestar]


async def _kids(client: Client) -> list[str]:
    response = await client.get("/lti/jwks.json")
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


async def test_jwks_is_public_cacheable_and_holds_no_private_parts(lti_client: Client) -> None:
    response = await lti_client.get("/lti/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def _rotate_with_the_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import main

    for name, value in {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "LYCEUM_SECRET_KEY": settings.secret_key.value,
        "LYCEUM_DATA_DIR": str(settings.data_dir),
        "LYCEUM_ENVIRONMENT": "test",
    }.items():
        monkeypatch.setenv(name, value)
    main(["lti", "rotate-key"])


async def test_rotated_key_is_published_within_the_grace_period_and_gone_after(
    lti_client: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = (await _kids(lti_client))[0]
    # The command runs its own event loop (asyncio.run), as it does from a shell.
    await asyncio.to_thread(_rotate_with_the_cli, settings, monkeypatch)
    out = capsys.readouterr().out
    assert f"LTI tool key {old} retired" in out
    now = await _kids(lti_client)
    assert now[0] != old  # the new active key comes first
    assert f"LTI tool key {now[0]} is active" in out
    assert old in now  # still published: platforms may hold what it signed
    within = datetime.now(UTC) - timedelta(days=settings.lti_key_grace_days) + timedelta(hours=1)
    await owner_execute(
        settings, "update lti_tool_keys set retired_at = :t where kid = :kid", {"t": within, "kid": old}
    )
    assert old in await _kids(lti_client)
    after = datetime.now(UTC) - timedelta(days=settings.lti_key_grace_days, hours=1)
    await owner_execute(settings, "update lti_tool_keys set retired_at = :t where kid = :kid", {"t": after, "kid": old})
    kids = await _kids(lti_client)
    assert old not in kids
    assert now[0] in kids
