"""The load tests' fake LMS (loadtests/fake_lms.py) speaks LTI 1.3 as the tool reads it: its id_token passes
the tool's own validation against the key set it serves, and it reads the tool's redirect like a platform."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from joserfc.jwk import KeySet

from app.lib.lti import claims as c
from app.lib.lti.idtoken import Expected, IdTokenError, validate_id_token
from app.server.embedded import free_port
from loadtests.fake_lms import AuthRequestError, FakeLms, load_key, serve_jwks

TOOL = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def lms(tmp_path_factory: pytest.TempPathFactory) -> FakeLms:
    return FakeLms(load_key(tmp_path_factory.mktemp("lms") / "key.json"), "http://127.0.0.1:18401")


def _expected(lms: FakeLms) -> Expected:
    return Expected(issuer=lms.issuer, client_id=lms.client_id, deployment_ids=[lms.deployment_id], now=time.time())


def _key_set(lms: FakeLms) -> object:
    async def provider(_refresh: bool) -> KeySet:
        return KeySet.import_key_set(lms.jwks())  # type: ignore[arg-type]

    return provider


async def test_its_id_token_is_a_valid_resource_link_launch_for_the_tool(lms: FakeLms) -> None:
    token = lms.id_token(sub="load-1", nonce="n-1", target_link_uri=f"{TOOL}/lti/launch", course_id="c-9")
    launch = await validate_id_token(token, _expected(lms), _key_set(lms))  # type: ignore[arg-type]
    assert launch.message_type == c.RESOURCE_LINK_REQUEST
    assert (launch.sub, launch.nonce, launch.deployment_id) == ("load-1", "n-1", lms.deployment_id)
    assert launch.roles == ("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",)
    assert launch.get_dict(c.CUSTOM) == {c.CUSTOM_COURSE_ID: "c-9"}
    assert launch.get_dict(c.RESOURCE_LINK)["id"]
    assert launch.get_dict(c.CONTEXT)["id"]
    assert launch.claims[c.TARGET_LINK_URI] == f"{TOOL}/lti/launch"


async def test_another_platforms_key_does_not_validate_its_token(lms: FakeLms, tmp_path: Path) -> None:
    other = FakeLms(load_key(tmp_path / "other.json"), lms.base_url)
    token = other.id_token(sub="load-1", nonce="n", target_link_uri=f"{TOOL}/lti/launch")
    with pytest.raises(IdTokenError):
        await validate_id_token(token, _expected(lms), _key_set(lms))  # type: ignore[arg-type]


def test_the_key_file_is_created_once_private_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    first, second = load_key(path), load_key(path)
    assert first.kid == second.kid
    assert path.stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]  # no temporary file left behind


def _redirect(lms: FakeLms, **changes: str | None) -> str:
    query: dict[str, str | None] = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": lms.client_id,
        "redirect_uri": f"{TOOL}/lti/launch",
        "login_hint": "load-1",
        "state": "s",
        "nonce": "n",
        **changes,
    }
    return f"{lms.auth_login_url}?{urlencode({k: v for k, v in query.items() if v is not None})}"


def test_it_reads_the_tools_authorization_request(lms: FakeLms) -> None:
    auth = lms.auth_request(_redirect(lms), login_hint="load-1")
    assert (auth["state"], auth["nonce"]) == ("s", "n")


@pytest.mark.parametrize(
    "changes",
    [{"nonce": None}, {"state": None}, {"response_mode": "query"}, {"login_hint": "someone-else"}, {"prompt": None}],
)
def test_it_refuses_an_authorization_request_lti_does_not_allow(lms: FakeLms, changes: dict[str, str | None]) -> None:
    with pytest.raises(AuthRequestError):
        lms.auth_request(_redirect(lms, **changes), login_hint="load-1")


def test_it_refuses_a_redirect_to_anywhere_but_its_auth_endpoint(lms: FakeLms) -> None:
    with pytest.raises(AuthRequestError):
        lms.auth_request(_redirect(lms).replace("/auth?", "/elsewhere?"), login_hint="load-1")


def test_it_serves_its_key_set_once_per_port(tmp_path: Path) -> None:
    port = free_port()
    lms = FakeLms(load_key(tmp_path / "key.json"), f"http://127.0.0.1:{port}")
    server = serve_jwks(lms, port)
    assert server is not None
    try:
        keys = httpx.get(lms.key_set_url, timeout=5).json()["keys"]
        assert [k["kid"] for k in keys] == [lms.kid]
        assert "d" not in keys[0]  # the public half only
        assert serve_jwks(lms, port) is None  # a second process finds the port taken and reuses it
    finally:
        server.shutdown()
        server.server_close()
