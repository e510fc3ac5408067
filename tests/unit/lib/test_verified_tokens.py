"""The per-process cache of verified access tokens (app/lib/auth.py): it saves the signature check, never
the expiry check, and an entry only counts for the codec (secret) that verified it."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from app.lib.auth import VerifiedTokens
from app.lib.errors import NotAuthenticated
from app.lib.security.tokens import TokenCodec


def codec(secret: str = "s" * 40, ttl: int = 900) -> TokenCodec:
    return TokenCodec(secret, ttl, 86400)


def access_token(c: TokenCodec) -> str:
    return c.issue(
        "access", user_id=uuid.uuid4(), org_id=uuid.uuid4(), family_id=uuid.uuid4(), roles=frozenset({"learner"})
    ).token


def test_a_verified_token_is_served_from_the_cache() -> None:
    c, cache = codec(), VerifiedTokens()
    token = access_token(c)
    first = cache.principal(c, token)
    assert first == c.principal(token)
    assert cache.principal(c, token) is first


def test_an_entry_counts_only_for_the_codec_that_verified_it() -> None:
    c, cache = codec(), VerifiedTokens()
    token = access_token(c)
    cache.principal(c, token)
    with pytest.raises(NotAuthenticated):
        cache.principal(codec("o" * 40), token)  # another secret: verified afresh, and refused


def test_expiry_is_checked_on_every_use() -> None:
    c, cache = codec(ttl=-10), VerifiedTokens()  # issued already expired
    token = access_token(c)
    with pytest.raises(NotAuthenticated):
        cache.principal(c, token)
    # Even an entry planted as if verified earlier is dropped once past its expiry, and re-verified.
    live = codec().principal(access_token(codec()))
    cache._principals[token] = (c, dataclasses.replace(live, expires_at=1))
    with pytest.raises(NotAuthenticated):
        cache.principal(c, token)
    assert token not in cache._principals


def test_invalid_tokens_are_not_cached() -> None:
    c, cache = codec(), VerifiedTokens()
    with pytest.raises(NotAuthenticated):
        cache.principal(c, access_token(c) + "x")
    assert cache._principals == {}


def test_the_cache_is_bounded() -> None:
    c, cache = codec(), VerifiedTokens(limit=2)
    tokens = [access_token(c) for _ in range(3)]
    for token in tokens:
        cache.principal(c, token)
    assert list(cache._principals) == tokens[1:]
