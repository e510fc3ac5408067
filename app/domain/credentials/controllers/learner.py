"""The signed-in learner's credentials: list, the name shown on the public page, the DID to be named by."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get, patch, put

from app.domain.credentials.deps import learner_credential_dependencies
from app.domain.credentials.learner import CredentialItem, CredentialSubject, DisplayNameIn, LearnerCredentialService
from app.lib.auth import is_member
from app.lib.pagination import Page
from app.lib.throttle import RATE_LIMIT


class LearnerCredentialController(Controller):
    dependencies = learner_credential_dependencies
    path = "/me"
    tags = ["Credentials"]
    guards = [is_member]
    opt = {RATE_LIMIT: "api"}

    @get(
        "/credentials",
        summary="Your credentials: each Open Badges 3.0 credential (with its proof), its VC-JWT and share link",
    )
    async def my_credentials(
        self, request: Request[Any, Any, Any], learner_credential_service: LearnerCredentialService, page: LimitOffset
    ) -> Page[CredentialItem]:
        return Page.of(await learner_credential_service.my_credentials(page), request)

    @patch(
        "/credentials/{credential_id:uuid}",
        summary="The name the credential's public page shows as its recipient (1-200 characters)",
        description="404 for a credential that is not yours.",
    )
    async def rename(
        self, credential_id: UUID, data: DisplayNameIn, learner_credential_service: LearnerCredentialService
    ) -> CredentialItem:
        return await learner_credential_service.rename(credential_id, data)

    @get("/credential-subject", summary="The DID your future credentials name you by (null: a pseudonym)")
    async def subject(self, learner_credential_service: LearnerCredentialService) -> CredentialSubject:
        return await learner_credential_service.subject()

    @put(
        "/credential-subject",
        summary="Register (or clear, with null) the DID your future credentials name you by",
        description="The DID must look like did:<method>:<identifier>, at most 500 characters. Credentials "
        "already issued keep the subject they were issued to.",
    )
    async def set_subject(
        self, data: CredentialSubject, learner_credential_service: LearnerCredentialService
    ) -> CredentialSubject:
        return await learner_credential_service.set_subject(data)
