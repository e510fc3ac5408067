"""LTI 1.3 claim names, message types and the version this tool speaks (LTI Core 1.3 §5, Deep Linking 2.0,
AGS 2.0, NRPS 2.0). One place for the URIs, so a typo cannot silently miss a claim."""

from __future__ import annotations

from typing import Final

LTI_VERSION: Final = "1.3.0"

RESOURCE_LINK_REQUEST: Final = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST: Final = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE: Final = "LtiDeepLinkingResponse"
MESSAGE_TYPES: Final = frozenset({RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST})

_LTI: Final = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE: Final = _LTI + "message_type"
VERSION: Final = _LTI + "version"
DEPLOYMENT_ID: Final = _LTI + "deployment_id"
TARGET_LINK_URI: Final = _LTI + "target_link_uri"
RESOURCE_LINK: Final = _LTI + "resource_link"
ROLES: Final = _LTI + "roles"
CONTEXT: Final = _LTI + "context"
CUSTOM: Final = _LTI + "custom"
TOOL_PLATFORM: Final = _LTI + "tool_platform"
LAUNCH_PRESENTATION: Final = _LTI + "launch_presentation"

DEEP_LINKING_SETTINGS: Final = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DEEP_LINKING_CONTENT_ITEMS: Final = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DEEP_LINKING_DATA: Final = "https://purl.imsglobal.org/spec/lti-dl/claim/data"

AGS_ENDPOINT: Final = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS: Final = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"

# Custom parameters deep linking puts in a content item (and a launch reads back) to name the Lyceum target.
CUSTOM_ITEM_ID: Final = "lyceum_item_id"
CUSTOM_COURSE_ID: Final = "lyceum_course_id"
