"""The tool's published key set (``GET /lti/jwks.json``), read with no tenant: the tool keys are the
deployment's, not an org's (app/domain/lti/toolkeys.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.db.engine import Database
from app.domain.lti import toolkeys


@dataclass(eq=False, repr=False, kw_only=True)
class ToolKeySetService:
    db: Database
    settings: Settings

    async def key_set(self) -> dict[str, list[dict[str, Any]]]:
        async with self.db.transaction(None) as session:  # no tenant: lti_tool_keys has no org
            return await toolkeys.published_jwks(session, self.settings)
