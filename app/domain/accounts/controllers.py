from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, patch, post
from litestar.params import Parameter

from app.domain.accounts.schemas import Me, Role, UserCreate, UserOut, UserUpdate
from app.domain.accounts.services import AccountService
from app.lib.auth import is_admin, is_member, is_staff
from app.lib.idempotency import IDEMPOTENT
from app.lib.pagination import Page, PageRequest
from app.lib.security.principal import Principal
from app.lib.versioning import deprecated
from app.runtime import Runtime


class MeController(Controller):
    path = "/me"
    tags = ["Accounts"]
    guards = [is_member]

    @get("/", summary="The signed-in user in the current org")
    async def me(self, runtime: Runtime, principal: Principal) -> Me:
        return await AccountService(runtime, principal).me()


class UserController(Controller):
    path = "/users"
    tags = ["Accounts"]
    guards = [is_member]

    @get("/", guards=[is_staff], summary="Members of the current org (instructors and admins)")
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        runtime: Runtime,
        principal: Principal,
        page: PageRequest,
        role: Annotated[Role | None, Parameter(query="role")] = None,
    ) -> Page[UserOut]:
        items, total = await AccountService(runtime, principal).list_members(page.limit, page.offset, role)
        return page.page(items, total, request)

    @post("/", guards=[is_admin], opt={IDEMPOTENT: True}, summary="Create a user in the current org (admins)")
    async def create_user(self, data: UserCreate, runtime: Runtime, principal: Principal, request_id: str) -> UserOut:
        return await AccountService(runtime, principal, request_id).create(data)

    @get(
        "/me",
        summary="Deprecated alias of GET /v1/me",
        deprecated=True,
        opt=deprecated(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 6, 30, tzinfo=UTC), "/v1/me"),
    )
    async def me_alias(self, runtime: Runtime, principal: Principal) -> Me:
        return await AccountService(runtime, principal).me()

    @get("/{user_id:uuid}", summary="A member's profile (yourself, or anyone for staff)")
    async def get_user(self, user_id: UUID, runtime: Runtime, principal: Principal) -> UserOut:
        return await AccountService(runtime, principal).get(user_id)

    @patch("/{user_id:uuid}", summary="Edit a profile (your own, or anyone's for admins)")
    async def update_user(
        self, user_id: UUID, data: UserUpdate, runtime: Runtime, principal: Principal, request_id: str
    ) -> UserOut:
        return await AccountService(runtime, principal, request_id).update(user_id, data)
