"""The base of the project's advanced-alchemy repository services.

Repository services are built on the session of a tenant-scoped transaction (``TenantDatabase.transaction()``),
never on a session of their own, so row-level security applies to every statement they run (ADR 0009)."""

from __future__ import annotations

from typing import Any, TypeVar

from advanced_alchemy.base import ModelProtocol
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy.ext.asyncio import AsyncSession

ModelT = TypeVar("ModelT", bound=ModelProtocol)
RepositoryT = TypeVar("RepositoryT", bound=SQLAlchemyAsyncRepository[Any])


class Repository(SQLAlchemyAsyncRepository[ModelT]):
    count_with_window_function = False


class RepositoryService(SQLAlchemyAsyncRepositoryService[ModelT, RepositoryT]):
    """advanced-alchemy's repository service with two defaults changed, so behaviour matches the
    hand-written queries it replaces:

    - ``list_and_count`` counts in a statement of its own: the window-function count reports a total of 0
      for a page past the end, and ``total`` is part of the paging contract;
    - database errors are not wrapped in ``RepositoryError``, so ``app/lib/problems.py`` maps them as
      before (an unreachable or timed-out database is a 503, not a 500)."""

    count_with_window_function = False

    def __init__(self, session: AsyncSession, **kwargs: Any) -> None:
        kwargs.setdefault("wrap_exceptions", False)
        super().__init__(session, **kwargs)
