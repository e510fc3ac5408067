"""Security notices: telling people about changes to their own account (password changed, or reset by an
admin), so that someone who did not make the change learns of it.

Lyceum has no mail transport of its own. Delivery is a hook: ``LYCEUM_SECURITY_NOTIFY_HOOK`` names a
callable as ``package.module:function``; it receives each ``SecurityNotice`` (sync functions run in a
thread, coroutines are awaited) and should hand the notice off quickly, for example by enqueueing an
email, because it is given at most ``HOOK_TIMEOUT_SECONDS``. Every notice is also a structured log line
(``security_notice``, the address masked), which is all that happens without a hook. Notices are sent
after the change has committed, and a failing hook never fails the request: it is logged.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

import structlog

HOOK_TIMEOUT_SECONDS = 2.0
NoticeKind = Literal["password_changed", "password_reset"]
log = structlog.get_logger("lyceum.notify")


@dataclass(frozen=True, slots=True)
class SecurityNotice:
    kind: NoticeKind
    user_id: UUID
    org_id: UUID
    email: str  # where to write to
    name: str
    actor_id: UUID  # who made the change (the user themself, or an admin)
    at: datetime
    request_id: str = ""


def mask_email(email: str) -> str:
    """``learner@demo.test`` -> ``l***@demo.test``: enough to tell accounts apart in a log, not to harvest."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}"


@lru_cache(maxsize=8)
def resolve_hook(spec: str) -> Callable[[SecurityNotice], Any] | None:
    if not spec:
        return None
    module_name, _, attribute = spec.partition(":")
    hook = getattr(importlib.import_module(module_name), attribute)
    if not callable(hook):
        raise TypeError(f"{spec} is not callable")
    return hook  # type: ignore[no-any-return]


async def send_security_notice(hook_spec: str, notice: SecurityNotice) -> None:
    log.info(
        "security_notice",
        kind=notice.kind,
        user_id=str(notice.user_id),
        org_id=str(notice.org_id),
        actor_id=str(notice.actor_id),
        to=mask_email(notice.email),
        request_id=notice.request_id,
    )
    try:
        hook = resolve_hook(hook_spec)
        if hook is None:
            return
        if inspect.iscoroutinefunction(hook):
            await asyncio.wait_for(hook(notice), HOOK_TIMEOUT_SECONDS)
        else:
            await asyncio.wait_for(asyncio.to_thread(hook, notice), HOOK_TIMEOUT_SECONDS)
    except Exception as exc:  # the change is committed; a notice that cannot be delivered must not undo it
        log.warning("security_notice_hook_failed", kind=notice.kind, hook=hook_spec, error=type(exc).__name__)
