"""Offset pagination on advanced-alchemy's ``LimitOffset`` (the ``page`` dependency: ``limit``/``offset``
query parameters, limits clamped) and ``OffsetPagination`` (what services return), sent as ``Page`` with
the total and a next link."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar, TypeVarTuple
from urllib.parse import urlencode

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from litestar import Request
from litestar.params import Parameter
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.lib.errors import ValidationFailed
from app.lib.resources import edge_resources

T = TypeVar("T")
Columns = TypeVarTuple("Columns")
MAX_OFFSET = 10_000_000


class Page(msgspec.Struct, Generic[T]):
    """The wire shape of every paged list (a contract): advanced-alchemy's ``OffsetPagination`` plus the
    ``next`` link."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next: str | None = None

    @classmethod
    def of(cls, result: OffsetPagination[T], request: Request[Any, Any, Any]) -> Page[T]:
        items = list(result.items)
        next_link = None
        if result.offset + len(items) < result.total:
            query = dict(request.query_params)
            query.update(limit=str(result.limit), offset=str(result.offset + result.limit))
            next_link = f"{request.url.path}?{urlencode(query)}"
        return cls(items=items, total=result.total, limit=result.limit, offset=result.offset, next=next_link)


async def fetch_page(
    session: AsyncSession, query: Select[*Columns], page: LimitOffset
) -> tuple[list[Any], OffsetPagination[Any]]:
    """Rows of one page of ``query`` (already ordered) in the caller's transaction, and the page's
    ``OffsetPagination`` (rows as items, the total count) for the caller to map with ``paginated``."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = (await session.execute(query.limit(page.limit).offset(page.offset))).all()
    items = [row[0] if len(row) == 1 else row for row in rows]  # type: ignore[misc]
    return items, OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)


def paginated(items: Sequence[T], page: OffsetPagination[Any]) -> OffsetPagination[T]:
    """``page`` with its rows replaced by their response structs."""
    return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=page.total)


def provide_page_request(
    request: Request[Any, Any, Any],
    limit: Annotated[int, Parameter(query="limit", description="Page size; clamped to the server maximum")] = 20,
    offset: Annotated[int, Parameter(query="offset", description="Items to skip")] = 0,
) -> LimitOffset:
    max_limit: int = edge_resources(request.app).settings.page_max_limit
    if limit < 1:
        raise ValidationFailed("limit must be at least 1", errors=[{"parameter": "limit", "detail": "must be >= 1"}])
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed(
            f"offset must be between 0 and {MAX_OFFSET}",
            errors=[{"parameter": "offset", "detail": f"must be between 0 and {MAX_OFFSET}"}],
        )
    return LimitOffset(limit=min(limit, max_limit), offset=offset)
