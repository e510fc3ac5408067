"""What every benchmark needs first: PostgreSQL and Redis (given or embedded), migrated and seeded."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.config import Settings, load_settings
from app.db.bootstrap import migrate
from app.seed import seed
from app.server.embedded import EmbeddedStack


@dataclass
class BenchStack:
    stack: EmbeddedStack
    env: dict[str, str]  # the process environment for API/worker children: URLs, data dir, overrides
    settings: Settings

    def stop(self) -> None:
        self.stack.stop()


async def start_stack(name: str, **overrides: str) -> BenchStack:
    """Uses DATABASE_URL / REDIS_URL when set, else starts embedded servers in a temporary data dir."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"lyceum-{name}-bench-"))
    stack = EmbeddedStack(data_dir, persist=False)
    database_url, redis_url = stack.start(os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", ""))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LYCEUM_DATA_DIR": str(data_dir),
        "LYCEUM_LOG_LEVEL": "ERROR",
        "LYCEUM_REDIS_KEY_PREFIX": f"bench-{name}-{os.getpid()}:",
        **overrides,
    }
    settings = load_settings(
        {k: v for k, v in env.items() if k.startswith(("LYCEUM_", "DATABASE", "REDIS", "ANTHROPIC"))}
    )
    await migrate(settings)
    await seed(settings)
    return BenchStack(stack, env, settings)


def wait_healthy(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not become healthy within {seconds:g} s")
