"""Public credential routes (no sign-in, no tenant header): each org's did:web document and JWKS, its signed
revocation status lists, and verification of any credential."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import Body, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from app.domain.credentials.deps import public_credential_dependencies
from app.domain.credentials.schemas import VerifyOut
from app.domain.credentials.verification import PublicCredentialService
from app.lib.auth import PUBLIC
from app.lib.conditional import etag_matches

# Verifiers anywhere (a browser wallet included) fetch these; short caching keeps rotation visible quickly.
KEY_HEADERS = {"Cache-Control": "public, max-age=60", "Access-Control-Allow-Origin": "*"}
STATUS_CACHE = "public, max-age=60"
DID_MEDIA_TYPE = "application/did+json"


class IssuerPublicController(Controller):
    """``/orgs/{slug}/…``: what verifiers resolve (outside ``/v1``: the did:web path is fixed by the DID)."""

    dependencies = public_credential_dependencies
    path = "/orgs"
    tags = ["Credentials"]
    opt = {PUBLIC: True}
    security = [{}]

    @get(
        "/{slug:str}/did.json",
        summary="The org's did:web DID document: every signing key it published (retired ones included)",
        media_type=DID_MEDIA_TYPE,
    )
    async def did_document(
        self, slug: Annotated[str, Parameter(max_length=63)], public_credential_service: PublicCredentialService
    ) -> Response[dict[str, Any]]:
        document = await public_credential_service.did_document(slug)
        return Response(document, media_type=DID_MEDIA_TYPE, headers=KEY_HEADERS)

    @get("/{slug:str}/jwks.json", summary="The org's public signing keys as a JWKS (OKP Ed25519, kid = DID URL)")
    async def jwks(
        self, slug: Annotated[str, Parameter(max_length=63)], public_credential_service: PublicCredentialService
    ) -> Response[dict[str, Any]]:
        return Response(await public_credential_service.jwks(slug), headers=KEY_HEADERS)

    @get(
        "/{slug:str}/credentials/status/{list_id:str}",
        summary="A signed BitstringStatusListCredential (revocation); ETag, 304 on If-None-Match",
    )
    async def status_list(
        self,
        slug: Annotated[str, Parameter(max_length=63)],
        list_id: Annotated[str, Parameter(max_length=64)],
        public_credential_service: PublicCredentialService,
        if_none_match: Annotated[str | None, Parameter(header="If-None-Match", required=False, max_length=1000)] = None,
    ) -> Response[Any]:
        published = await public_credential_service.status_list(slug, list_id)
        headers = {"ETag": published.etag, "Cache-Control": STATUS_CACHE, "Access-Control-Allow-Origin": "*"}
        if etag_matches(if_none_match, published.etag):
            return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(published.document, status_code=HTTP_200_OK, headers=headers)


class CredentialVerifyController(Controller):
    dependencies = public_credential_dependencies
    path = "/credentials"
    tags = ["Credentials"]
    opt = {PUBLIC: True}
    security = [{}]

    @post(
        "/verify",
        status_code=HTTP_200_OK,
        summary="Verify an Open Badges 3.0 credential (JSON with its Data Integrity proof, or a VC-JWT)",
        description=(
            'Body: {"credential": {...}} or {"jwt": "..."}. Every JSON object gets a 200 report: format, '
            "signature, claims (VC-JWT only), schema, issuer, validity and status, each with a reason; verified "
            "is true only when all passed. Rate limited per client address."
        ),
    )
    async def verify(
        self,
        request: Request[Any, Any, Any],
        public_credential_service: PublicCredentialService,
        data: Annotated[Any, Body(title="VerifyIn", description="VerifyIn: {credential} or {jwt}")],
    ) -> VerifyOut:
        client = request.client.host if request.client else ""
        return await public_credential_service.verify(data, client)
