"""Webhook administration routes (``/v1/admin/webhooks``, org admins): thin, the service does the work."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, delete, get, patch, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.domain.webhooks.admin import WebhookAdminService
from app.domain.webhooks.deps import webhook_admin_dependencies
from app.domain.webhooks.schemas import (
    WebhookDeliveryOut,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookSecretOut,
)
from app.lib.auth import is_admin
from app.lib.pagination import Page


class WebhookAdminController(Controller):
    dependencies = webhook_admin_dependencies
    path = "/admin/webhooks"
    tags = ["Webhooks"]
    guards = [is_admin]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Register a webhook endpoint; the answer carries its signing secret (shown once, never again)",
    )
    async def create_endpoint(
        self, data: WebhookEndpointIn, webhook_admin_service: WebhookAdminService
    ) -> WebhookEndpointCreated:
        return await webhook_admin_service.create(data)

    @get("/", summary="The org's webhook endpoints, oldest first (status, breaker, disabled notice)")
    async def list_endpoints(
        self, request: Request[Any, Any, Any], webhook_admin_service: WebhookAdminService, page: LimitOffset
    ) -> Page[WebhookEndpointOut]:
        return Page.of(await webhook_admin_service.list(page), request)

    @get("/{endpoint_id:uuid}", summary="One webhook endpoint")
    async def get_endpoint(self, endpoint_id: UUID, webhook_admin_service: WebhookAdminService) -> WebhookEndpointOut:
        return await webhook_admin_service.get(endpoint_id)

    @patch("/{endpoint_id:uuid}", summary="Change an endpoint's events or enable/disable it (enabling resets it)")
    async def update_endpoint(
        self, endpoint_id: UUID, data: WebhookEndpointUpdate, webhook_admin_service: WebhookAdminService
    ) -> WebhookEndpointOut:
        return await webhook_admin_service.update(endpoint_id, data)

    @delete("/{endpoint_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Remove an endpoint and its log")
    async def delete_endpoint(self, endpoint_id: UUID, webhook_admin_service: WebhookAdminService) -> None:
        await webhook_admin_service.delete(endpoint_id)

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        status_code=HTTP_200_OK,
        summary="Replace the endpoint's signing secret; the new one is shown once",
    )
    async def rotate_secret(self, endpoint_id: UUID, webhook_admin_service: WebhookAdminService) -> WebhookSecretOut:
        return await webhook_admin_service.rotate_secret(endpoint_id)

    @get("/{endpoint_id:uuid}/deliveries", summary="The endpoint's delivery log, newest first, with response codes")
    async def list_deliveries(
        self,
        request: Request[Any, Any, Any],
        endpoint_id: UUID,
        webhook_admin_service: WebhookAdminService,
        page: LimitOffset,
    ) -> Page[WebhookDeliveryOut]:
        return Page.of(await webhook_admin_service.deliveries(endpoint_id, page), request)

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/replay",
        status_code=HTTP_200_OK,
        summary="Send a settled delivery again from a fresh retry schedule (same webhook-id)",
    )
    async def replay_delivery(
        self, endpoint_id: UUID, delivery_id: UUID, webhook_admin_service: WebhookAdminService
    ) -> WebhookDeliveryOut:
        return await webhook_admin_service.replay(endpoint_id, delivery_id)
