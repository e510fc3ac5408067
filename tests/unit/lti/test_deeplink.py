"""The Deep Linking 2.0 response: claims, content items, the request's settings, the signature."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.lib.lti import deeplink, keys
from app.lib.lti.deeplink import CLAIM, DL_CLAIM, DeepLinkRefused, DeepLinkRequest, Selection

LAUNCH = "https://lyceum.example/lti/launch"


def _request(**overrides: object) -> DeepLinkRequest:
    base: dict[str, object] = {
        "issuer": "https://lms.example",
        "client_id": "client-1",
        "deployment_id": "dep-1",
        "return_url": "https://lms.example/dl/return",
        "data": "opaque-123",
    }
    base.update(overrides)
    return DeepLinkRequest(**base)  # type: ignore[arg-type]


ITEM = Selection(kind="item", id="11111111-1111-1111-1111-111111111111", title="Loops", text="About loops")
QUIZ = Selection(kind="item", id="22222222-2222-2222-2222-222222222222", title="Quiz", assessment=True)
COURSE = Selection(kind="course", id="33333333-3333-3333-3333-333333333333", title="Python")


def test_claims_name_the_tool_and_the_platform() -> None:
    claims = deeplink.response_claims(_request(), [ITEM], launch_url=LAUNCH, now=1_000)
    assert claims["iss"] == "client-1"
    assert claims["aud"] == "https://lms.example"
    assert claims["azp"] == "client-1"
    assert claims["iat"] == 1_000
    assert claims["exp"] == 1_300
    assert len(claims["nonce"]) >= 16
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "version"] == "1.3.0"
    assert claims[CLAIM + "deployment_id"] == "dep-1"
    assert claims[DL_CLAIM + "data"] == "opaque-123"


def test_nonce_is_fresh_each_time() -> None:
    first = deeplink.response_claims(_request(), [ITEM], launch_url=LAUNCH)["nonce"]
    assert first != deeplink.response_claims(_request(), [ITEM], launch_url=LAUNCH)["nonce"]


def test_data_is_left_out_when_the_request_had_none() -> None:
    claims = deeplink.response_claims(_request(data=None), [ITEM], launch_url=LAUNCH)
    assert DL_CLAIM + "data" not in claims


def test_content_items_name_the_item_or_course() -> None:
    claims = deeplink.response_claims(_request(), [ITEM, COURSE], launch_url=LAUNCH)
    item, course = claims[DL_CLAIM + "content_items"]
    assert item == {
        "type": "ltiResourceLink",
        "title": "Loops",
        "text": "About loops",
        "url": LAUNCH,
        "custom": {"lyceum_item_id": ITEM.id},
    }
    assert course["custom"] == {"lyceum_course_id": COURSE.id}
    assert "lineItem" not in item
    assert "text" not in course


def test_assessments_carry_a_line_item() -> None:
    (quiz,) = deeplink.response_claims(_request(), [QUIZ], launch_url=LAUNCH)[DL_CLAIM + "content_items"]
    assert quiz["lineItem"] == {
        "scoreMaximum": 100.0,
        "label": "Quiz",
        "resourceId": QUIZ.id,
        "tag": "lyceum-assessment",
    }


def test_no_line_item_when_the_platform_does_not_accept_them() -> None:
    claims = deeplink.response_claims(_request(accept_lineitem=False), [QUIZ], launch_url=LAUNCH)
    assert "lineItem" not in claims[DL_CLAIM + "content_items"][0]


def test_one_item_only_when_multiple_are_not_accepted() -> None:
    with pytest.raises(DeepLinkRefused, match="one item"):
        deeplink.response_claims(_request(accept_multiple=False), [ITEM, QUIZ], launch_url=LAUNCH)
    assert deeplink.response_claims(_request(accept_multiple=False), [ITEM], launch_url=LAUNCH)


def test_refused_when_resource_links_are_not_accepted() -> None:
    with pytest.raises(DeepLinkRefused, match="resource links"):
        deeplink.response_claims(_request(accept_types=("file", "html")), [ITEM], launch_url=LAUNCH)


def test_refused_when_nothing_is_chosen() -> None:
    with pytest.raises(DeepLinkRefused):
        deeplink.response_claims(_request(), [], launch_url=LAUNCH)


def test_long_text_is_trimmed() -> None:
    long = Selection(kind="item", id="x", title="t", text="a" * 5000)
    (item,) = deeplink.response_claims(_request(), [long], launch_url=LAUNCH)[DL_CLAIM + "content_items"]
    assert len(item["text"]) == deeplink.TEXT_MAX


def test_signed_with_the_tool_key_and_its_kid() -> None:
    private = keys.generate_key()
    claims = deeplink.response_claims(_request(), [ITEM], launch_url=LAUNCH)
    token = deeplink.sign(claims, keys.signing_jwk(private, "k1"))
    public = RSAKey.import_key(keys.public_jwk(private, "k1"))
    decoded = jwt.decode(token, public, algorithms=["RS256"])
    assert decoded.header["kid"] == "k1"
    assert decoded.header["alg"] == "RS256"
    assert decoded.claims["aud"] == "https://lms.example"
    other = RSAKey.import_key(keys.public_jwk(keys.generate_key(), "k2"))
    with pytest.raises(Exception, match="signature"):
        jwt.decode(token, other, algorithms=["RS256"])
