"""The base of the project's advanced-alchemy repositories.

Repository services (``SQLAlchemyAsyncRepositoryService``) are built on the session of a tenant-scoped
transaction (``TenantDatabase.transaction()``), never on a session of their own, so row-level security
applies to every statement they run (ADR 0009)."""

from __future__ import annotations

from typing import TypeVar

from advanced_alchemy.base import ModelProtocol
from advanced_alchemy.repository import SQLAlchemyAsyncRepository

ModelT = TypeVar("ModelT", bound=ModelProtocol)


class Repository(SQLAlchemyAsyncRepository[ModelT]):
    """``list_and_count`` counts in a statement of its own: the window-function count reports a total of 0
    for a page past the end, and ``total`` is part of the paging contract."""

    count_with_window_function = False
