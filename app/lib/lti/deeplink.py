"""LTI Deep Linking 2.0: the tool's ``LtiDeepLinkingResponse`` (a JWT the browser posts back to the platform).

Pure: the caller (app/domain/lti/deep_linking.py) loads the stored request and the chosen courses/items, this
module builds and signs the claims. Only ``ltiResourceLink`` content items are offered: each one opens a
Lyceum course or item through the ordinary launch, named by the custom parameters ``lyceum_item_id`` or
``lyceum_course_id`` (the launch reads them first), and assessments carry a ``lineItem`` so the platform
creates a gradebook column the AGS score posts land in.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from joserfc import jwt

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
MESSAGE_TYPE = "LtiDeepLinkingResponse"
LTI_VERSION = "1.3.0"
RESOURCE_LINK = "ltiResourceLink"
RESPONSE_LIFETIME_SECONDS = 300  # the platform receives it within seconds: the browser posts it at once
DEFAULT_SCORE_MAXIMUM = 100.0  # a gradebook column out of 100; AGS posts scale the fraction to it
TEXT_MAX = 1000  # a summary, not the item's body


class DeepLinkRefused(ValueError):
    """The selection cannot be answered under the request's settings (the reason is fit to show)."""


@dataclass(frozen=True)
class DeepLinkRequest:
    """What the platform asked for (``lti:dl:<id>``, stored by the launch)."""

    issuer: str
    client_id: str
    deployment_id: str
    return_url: str
    accept_types: tuple[str, ...] = (RESOURCE_LINK,)
    accept_multiple: bool = True
    accept_lineitem: bool = True
    data: str | None = None


@dataclass(frozen=True)
class Selection:
    """One chosen course or item, as the picker and the content item name it."""

    kind: Literal["course", "item"]
    id: str
    title: str
    text: str = ""
    assessment: bool = False
    score_maximum: float = DEFAULT_SCORE_MAXIMUM
    extra_custom: dict[str, str] = field(default_factory=dict)


def check_selection(request: DeepLinkRequest, selections: list[Selection]) -> None:
    """Refuse what the request does not accept: a type it did not list, or several items when it allows one."""
    if RESOURCE_LINK not in request.accept_types:
        raise DeepLinkRefused(
            f"The platform does not accept LTI resource links (it accepts: {', '.join(request.accept_types) or 'none'})"
        )
    if not selections:
        raise DeepLinkRefused("Choose at least one course or item")
    if len(selections) > 1 and not request.accept_multiple:
        raise DeepLinkRefused("The platform accepts one item only: choose one")


def content_item(selection: Selection, *, launch_url: str, accept_lineitem: bool) -> dict[str, Any]:
    """An ``ltiResourceLink`` content item (Deep Linking 2.0 §3.1) for one course or item."""
    key = "lyceum_item_id" if selection.kind == "item" else "lyceum_course_id"
    item: dict[str, Any] = {
        "type": RESOURCE_LINK,
        "title": selection.title,
        "url": launch_url,
        "custom": {**selection.extra_custom, key: selection.id},
    }
    if selection.text:
        item["text"] = selection.text[:TEXT_MAX]
    if selection.assessment and accept_lineitem:
        item["lineItem"] = {
            "scoreMaximum": selection.score_maximum,
            "label": selection.title,
            "resourceId": selection.id,
            "tag": "lyceum-assessment",
        }
    return item


def response_claims(
    request: DeepLinkRequest, selections: list[Selection], *, launch_url: str, now: int | None = None
) -> dict[str, Any]:
    """The response's claims: issued by the tool (``iss`` = its client_id) for the platform (``aud`` = issuer)."""
    check_selection(request, selections)
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": request.client_id,
        "aud": request.issuer,
        "azp": request.client_id,
        "iat": issued,
        "exp": issued + RESPONSE_LIFETIME_SECONDS,
        "nonce": secrets.token_urlsafe(24),
        CLAIM + "message_type": MESSAGE_TYPE,
        CLAIM + "version": LTI_VERSION,
        CLAIM + "deployment_id": request.deployment_id,
        DL_CLAIM + "content_items": [
            content_item(s, launch_url=launch_url, accept_lineitem=request.accept_lineitem) for s in selections
        ],
    }
    if request.data is not None:
        claims[DL_CLAIM + "data"] = request.data  # echoed verbatim, as the spec requires when present
    return claims


def sign(claims: dict[str, Any], key: Any) -> str:
    """RS256 with the tool key's ``kid`` in the header (the platform picks the key from /lti/jwks.json)."""
    kid = key.kid if hasattr(key, "kid") else None
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    return jwt.encode(header, claims, key)
