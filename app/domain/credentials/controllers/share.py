"""Public pages of one credential (no sign-in): the share page's data and the baked badge."""

from __future__ import annotations

from litestar import Controller, Response, get

from app.domain.credentials.deps import share_dependencies
from app.domain.credentials.share import SharedCredential, ShareService, parse_id
from app.lib.auth import PUBLIC


class ShareController(Controller):
    dependencies = share_dependencies
    path = "/credentials"
    tags = ["Credentials"]
    opt = {PUBLIC: True}

    @get(
        "/{credential_id:str}",
        summary="A credential's public page: what was achieved, by whom, the issuer, and the credential itself",
        description="No sign-in. 404 for an unknown (or malformed) id.",
        security=[],
    )
    async def shared(self, credential_id: str, share_service: ShareService) -> SharedCredential:
        return await share_service.shared(credential_id)

    @get(
        "/{credential_id:str}/badge.svg",
        summary="The badge image with the credential baked in (Open Badges 3.0 SVG baking)",
        description="No sign-in. An SVG download; 404 for an unknown (or malformed) id.",
        media_type="image/svg+xml",
        security=[],
    )
    async def badge(self, credential_id: str, share_service: ShareService) -> Response[str]:
        svg = await share_service.badge(credential_id)
        return Response(
            svg,
            media_type="image/svg+xml",
            headers={"Content-Disposition": f'attachment; filename="credential-{parse_id(credential_id)}.svg"'},
        )
