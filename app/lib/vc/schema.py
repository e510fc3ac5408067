"""The OBv3 AchievementCredential JSON Schema (Draft 2019-09), vendored in ``data/``.

``schema_errors`` reports each problem with a JSONPath-like location (``$.credentialSubject.achievement.criteria``
for a missing ``criteria``), so the issuance job can dead-letter a course whose content cannot make a
valid credential and say exactly what to fix.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import jsonschema_rs
from cachetools import LRUCache

if TYPE_CHECKING:
    from jsonschema import Draft201909Validator  # type: ignore[import-untyped]
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from app.lib.vc.jsonld import DATA, json_key

SCHEMA_ID = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
SCHEMA_TYPE = "1EdTechJsonSchemaValidator2019"
MAX_PROBLEMS = 20
_IDENTIFIER = re.compile(r"^[A-Za-z_@$][A-Za-z0-9_@$-]*$")
# Validation is ~1.3 ms a credential (jsonschema walks the OBv3 schema's $refs); a credential verified
# again (share pages, repeated checks) is served from here, keyed like the canonical-form cache.
_results: LRUCache[bytes, tuple[SchemaProblem, ...]] = LRUCache(maxsize=4096)
_lock = threading.Lock()


@dataclass(frozen=True)
class SchemaProblem:
    path: str
    message: str


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (DATA / "ob_v3p0_achievementcredential_schema.json").read_text(encoding="utf-8")
    )
    return schema


@cache
def _validator() -> Draft201909Validator:
    # Imported here, not at the top: importing jsonschema compiles its IRI format grammar (about 1.5 s of
    # CPU), and only a credential that fails the fast check below needs the explaining validator. Every API
    # and worker process imports this module at start.
    from jsonschema import Draft201909Validator

    Draft201909Validator.check_schema(_schema())
    return Draft201909Validator(_schema())


@cache
def _fast_validator() -> Any:
    # The yes/no answer from jsonschema-rs (~0.02 ms against ~1.4 ms): a valid credential, the common case
    # at issuance and verification, never reaches the pure-Python validator, which only explains failures.
    return jsonschema_rs.Draft201909Validator(_schema())


def json_path(parts: Iterable[Any]) -> str:
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.match(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(str(part))}]"
    return path


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The most specific errors: for anyOf/oneOf, the branch that got furthest into the instance."""
    if not error.context:
        return [error]
    deepest = max(len(sub.absolute_path) for sub in error.context)
    if deepest <= len(error.absolute_path):
        return [error]
    return [leaf for sub in error.context if len(sub.absolute_path) == deepest for leaf in _leaves(sub)]


def _problems(error: ValidationError) -> list[SchemaProblem]:
    base = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in error.validator_value if name not in error.instance]
        return [SchemaProblem(json_path([*base, name]), f"{name!r} is required") for name in missing]
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return [SchemaProblem(json_path(base), message)]


def schema_errors(credential: Mapping[str, Any]) -> list[SchemaProblem]:
    """Every way ``credential`` breaks the OBv3 AchievementCredential schema; ``[]`` when it is valid."""
    if isinstance(credential, Mapping) and isinstance(credential.get("proof"), Mapping):
        # JSON-LD reads a single value and a one-element array alike, and OBv3's examples (and other
        # issuers) write one proof as an object; the schema's array-only rule is about the JSON form.
        credential = {**credential, "proof": [credential["proof"]]}
    try:
        key = json_key(credential)
    except (TypeError, ValueError, RecursionError):
        key = None  # not plain JSON: validate (and fail) without caching
    if key is not None:
        with _lock:
            hit = _results.get(key)
        if hit is not None:
            return list(hit)
    problems = _validate(credential)
    if key is not None:
        with _lock:
            _results[key] = tuple(problems)
    return problems


def _validate(credential: Any) -> list[SchemaProblem]:
    try:
        if _fast_validator().is_valid(credential):
            return []
    except (ValueError, TypeError, OverflowError, RecursionError):
        pass  # not plain JSON to jsonschema-rs: the Python validator below says what is wrong
    try:
        errors = list(_validator().iter_errors(credential))
    except RecursionError:
        return [SchemaProblem("$", "the document is nested too deeply to validate")]
    found: dict[tuple[str, str], SchemaProblem] = {}
    for error in errors:
        for leaf in _leaves(error):
            for problem in _problems(leaf):
                found.setdefault((problem.path, problem.message), problem)
    return sorted(found.values(), key=lambda problem: problem.path)[:MAX_PROBLEMS]


def clear_cache() -> None:
    with _lock:
        _results.clear()
