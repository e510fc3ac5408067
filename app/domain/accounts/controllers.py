from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, Response, get, patch, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from app.config import Settings
from app.domain.accounts.deps import account_dependencies
from app.domain.accounts.schemas import Me, Role, RolesUpdate, UserCreate, UserOut, UserUpdate
from app.domain.accounts.services import AccountService
from app.domain.auth.cookies import deliver
from app.domain.auth.deps import auth_dependencies
from app.domain.auth.schemas import PasswordChange, PasswordReset, TokenPair
from app.domain.auth.services import AuthService
from app.lib.auth import is_admin, is_member, is_staff
from app.lib.idempotency import IDEMPOTENT
from app.lib.pagination import Page
from app.lib.security.principal import Principal
from app.lib.security.tokens import TokenCodec
from app.lib.versioning import deprecated


class MeController(Controller):
    dependencies = {**account_dependencies, **auth_dependencies}
    path = "/me"
    tags = ["Accounts"]
    guards = [is_member]

    @get("/", summary="The signed-in user in the current org")
    async def me(self, account_service: AccountService) -> Me:
        return await account_service.me()

    @post(
        "/password",
        status_code=HTTP_200_OK,
        summary="Change your password (needs the current one); ends your other sessions, returns new tokens",
    )
    async def change_password(
        self,
        data: PasswordChange,
        auth_service: AuthService,
        settings: Settings,
        tokens: TokenCodec,
        principal: Principal,
    ) -> Response[TokenPair]:
        pair = await auth_service.change_password(principal, data.current_password, data.new_password)
        return deliver(settings, tokens, pair, data.refresh_mode)


class UserController(Controller):
    dependencies = account_dependencies
    path = "/users"
    tags = ["Accounts"]
    guards = [is_member]

    @get("/", guards=[is_staff], summary="Members of the current org (instructors and admins)")
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        account_service: AccountService,
        page: LimitOffset,
        role: Annotated[Role | None, Parameter(query="role")] = None,
        q: Annotated[
            str | None, Parameter(query="q", max_length=200, description="Part of a name or email address")
        ] = None,
    ) -> Page[UserOut]:
        return Page.of(await account_service.list_members(page, role, q), request)

    @post("/", guards=[is_admin], opt={IDEMPOTENT: True}, summary="Create a user in the current org (admins)")
    async def create_user(self, data: UserCreate, account_service: AccountService) -> UserOut:
        return await account_service.create(data)

    @get(
        "/me",
        summary="Deprecated alias of GET /v1/me",
        deprecated=True,
        opt=deprecated(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 6, 30, tzinfo=UTC), "/v1/me"),
    )
    async def me_alias(self, account_service: AccountService) -> Me:
        return await account_service.me()

    @get("/{user_id:uuid}", summary="A member's profile (yourself, or anyone for staff)")
    async def get_user(self, user_id: UUID, account_service: AccountService) -> UserOut:
        return await account_service.get(user_id)

    @post(
        "/{user_id:uuid}/password",
        guards=[is_admin],
        status_code=HTTP_204_NO_CONTENT,
        summary="Reset a member's password (admins); ends all their sessions and notifies them",
    )
    async def reset_password(self, user_id: UUID, data: PasswordReset, account_service: AccountService) -> None:
        await account_service.reset_password(user_id, data.new_password)

    @patch("/{user_id:uuid}", summary="Edit a profile (your own, or anyone's for admins)")
    async def update_user(self, user_id: UUID, data: UserUpdate, account_service: AccountService) -> UserOut:
        return await account_service.update(user_id, data)

    @put(
        "/{user_id:uuid}/roles",
        guards=[is_admin],
        summary="Replace a member's roles (admins); removing a role ends their sessions; one active admin stays",
    )
    async def set_roles(self, user_id: UUID, data: RolesUpdate, account_service: AccountService) -> UserOut:
        return await account_service.set_roles(user_id, data.roles)
