"""Offset pagination: ``limit``/``offset`` query parameters, limits clamped, totals and a next link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, TypeVarTuple
from urllib.parse import urlencode

import msgspec
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
    items: list[T]
    total: int
    limit: int
    offset: int
    next: str | None = None


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    offset: int

    def page(self, items: list[T], total: int, request: Request[Any, Any, Any]) -> Page[T]:
        next_link = None
        if self.offset + len(items) < total:
            query = dict(request.query_params)
            query.update(limit=str(self.limit), offset=str(self.offset + self.limit))
            next_link = f"{request.url.path}?{urlencode(query)}"
        return Page(items=items, total=total, limit=self.limit, offset=self.offset, next=next_link)


async def fetch_page(session: AsyncSession, query: Select[*Columns], limit: int, offset: int) -> tuple[list[Any], int]:
    """Rows of one page of ``query`` (already ordered) and the total count, in the caller's transaction."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = (await session.execute(query.limit(limit).offset(offset))).all()
    return [row[0] if len(row) == 1 else row for row in rows], total  # type: ignore[misc]


def provide_page_request(
    request: Request[Any, Any, Any],
    limit: Annotated[int, Parameter(query="limit", description="Page size; clamped to the server maximum")] = 20,
    offset: Annotated[int, Parameter(query="offset", description="Items to skip")] = 0,
) -> PageRequest:
    max_limit: int = edge_resources(request.app).settings.page_max_limit
    if limit < 1:
        raise ValidationFailed("limit must be at least 1", errors=[{"parameter": "limit", "detail": "must be >= 1"}])
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed(
            f"offset must be between 0 and {MAX_OFFSET}",
            errors=[{"parameter": "offset", "detail": f"must be between 0 and {MAX_OFFSET}"}],
        )
    return PageRequest(limit=min(limit, max_limit), offset=offset)
