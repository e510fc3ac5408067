"""The OBv3 JSON Schema check (schema.py) and SVG baking (baking.py)."""

from __future__ import annotations

import copy
import xml.dom.minidom
from typing import Any

from app.lib.vc.baking import NAMESPACE, bake_svg, unbake_svg
from app.lib.vc.credential import identity_object
from app.lib.vc.schema import SchemaProblem, schema_errors

SVG = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512"><circle r="200"/></svg>'
)


def test_a_built_credential_is_valid(credential: dict[str, Any]) -> None:
    assert schema_errors(credential) == []


def test_a_signed_credential_is_valid_with_the_proof_as_array_or_object(credential: dict[str, Any]) -> None:
    from app.lib.vc.integrity import add_proof
    from app.lib.vc.keys import SigningKey, generate_key

    from .conftest import ISSUED

    signed = add_proof(credential, SigningKey("did:web:x#k", generate_key()), ISSUED)
    assert schema_errors(signed) == []
    assert schema_errors({**signed, "proof": signed["proof"][0]}) == []


def test_missing_criteria_is_reported_with_its_path(credential: dict[str, Any]) -> None:
    broken = copy.deepcopy(credential)
    del broken["credentialSubject"]["achievement"]["criteria"]
    assert schema_errors(broken) == [
        SchemaProblem("$.credentialSubject.achievement.criteria", "'criteria' is required")
    ]


def test_wrong_types_are_reported(credential: dict[str, Any]) -> None:
    broken = {**credential, "validFrom": 5, "issuer": []}
    paths = {problem.path for problem in schema_errors(broken)}
    assert {"$.validFrom", "$.issuer"} <= paths


def test_identity_object_hashes_the_normalised_email() -> None:
    identity = identity_object(" Ada@Example.COM ", "ab12")
    import hashlib

    assert identity["identityHash"] == "sha256$" + hashlib.sha256(b"ada@example.comab12").hexdigest()
    assert identity["hashed"] is True
    assert identity["identityType"] == "emailAddress"
    assert identity["salt"] == "ab12"


def test_bake_and_unbake_a_credential(credential: dict[str, Any]) -> None:
    tricky = {**credential, "name": "Ends with ]]> inside CDATA"}
    baked = bake_svg(SVG, credential=tricky)
    xml.dom.minidom.parseString(baked.encode())  # noqa: S318 — our own output: still well-formed XML
    assert f'xmlns:openbadges="{NAMESPACE}"' in baked
    assert baked.count("<openbadges:credential") == 1
    assert unbake_svg(baked) == tricky


def test_bake_a_jwt_replaces_what_was_baked() -> None:
    once = bake_svg(SVG, jwt="aaa.bbb.ccc")
    twice = bake_svg(once, jwt="ddd.eee.fff")
    xml.dom.minidom.parseString(twice.encode())  # noqa: S318 — our own output
    assert twice.count("<openbadges:credential") == 1
    assert '<openbadges:credential verify="ddd.eee.fff">' in twice
    assert unbake_svg(twice) == "ddd.eee.fff"


def test_unbake_garbage_is_none() -> None:
    for value in (SVG, "", "<svg><openbadges:credential>not json</openbadges:credential></svg>", None, 5):
        assert unbake_svg(value) is None  # type: ignore[arg-type]
