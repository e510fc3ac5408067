"""The checks every verifier runs, in order, on a credential (embedded proof) or a VC-JWT.

``format`` → ``signature`` → ``claims`` (VC-JWT only) → ``schema`` → ``issuer`` → ``validity`` → ``status``.
Key and status lookups are injected (the domain resolves its own orgs from the database, anything else
is unknown), so this module does no I/O of its own. It never raises: whatever the input — not JSON, not
an object, nested thousands deep, a JWT with ``alg: none`` — every failure is a :class:`Check` with a
reason a person can act on, and ``verified`` is true only when every check passed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.lib.vc import integrity, jsonld, schema, vcjwt
from app.lib.vc.checks import Check, parse_datetime
from app.lib.vc.credential import CREDENTIAL_TYPES
from app.lib.vc.did import did_of_kid
from app.lib.vc.jsonld import OB_V3, VC_V2

__all__ = ["Check", "KeyResolver", "StatusResolver", "clear_caches", "verify"]

KeyResolver = Callable[[str], Awaitable[Ed25519PublicKey | None]]
StatusResolver = Callable[[Mapping[str, Any]], Awaitable[bool | None]]

ORDER = ("format", "signature", "claims", "schema", "issuer", "validity", "status")
MAX_DEPTH = 32
MAX_NODES = 20_000
MAX_STRING = 64 * 1024


class _Rejected(Exception):
    pass


def _shape(value: Any) -> None:
    """Refuse what is not plain JSON of a sane size, without recursion (so depth cannot crash us)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _Rejected(f"the credential has more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _Rejected(f"the credential is nested more than {MAX_DEPTH} levels deep")
        kind = type(item)  # exact types first: this runs on every value of every verification
        if kind is str:
            if len(item) > MAX_STRING:
                raise _Rejected("the credential holds a string longer than 64 KiB")
        elif kind is dict or isinstance(item, Mapping):
            for key, child in item.items():
                if type(key) is not str:
                    raise _Rejected("object keys must be strings")
                stack.append((child, depth + 1))
        elif kind is list or kind is tuple:
            stack.extend((child, depth + 1) for child in item)
        elif item is not None and kind is not bool and kind is not int and kind is not float:
            raise _Rejected(f"{kind.__name__} is not a JSON value")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _format_problems(credential: Mapping[str, Any], *, embedded: bool) -> str | None:
    contexts = credential.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] != VC_V2:
        return f'"@context" must be a list starting with {VC_V2}'
    if OB_V3 not in contexts:
        return f'"@context" must include the Open Badges 3.0 context {OB_V3}'
    types = _as_list(credential.get("type"))
    missing = [name for name in CREDENTIAL_TYPES if name not in types]
    if missing:
        return f'"type" must include {", ".join(missing)}'
    if not isinstance(credential.get("id"), str):
        return '"id" must be a string'
    issuer = credential.get("issuer")
    if not isinstance(issuer, str) and not (isinstance(issuer, Mapping) and isinstance(issuer.get("id"), str)):
        return '"issuer" must be a URI or an object with an id'
    if not isinstance(credential.get("credentialSubject"), Mapping):
        return '"credentialSubject" must be an object'
    if embedded and integrity.proof_of(credential) is None:
        if isinstance(credential.get("proof"), list) and len(credential["proof"]) > 1:
            return "the credential carries several proofs; this verifier checks exactly one"
        return "the credential has no proof (send the VC-JWT for an externally secured credential)"
    return None


def _issuer_id(credential: Mapping[str, Any]) -> Any:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, Mapping) else issuer


def _not_checked(names: tuple[str, ...], reason: str) -> list[Check]:
    return [Check(name, False, f"not checked: {reason}") for name in names]


def clear_caches() -> None:
    """Forget every verification cache (canonical forms, processed contexts, schema results)."""
    jsonld.clear_caches()
    schema.clear_cache()


async def verify(
    credential_or_jwt: Mapping[str, Any] | str,
    *,
    resolve_key: KeyResolver,
    resolve_status: StatusResolver,
    now: datetime,
) -> tuple[bool, list[Check]]:
    """(verified, checks): run every check on a credential object or a compact VC-JWT."""
    try:
        checks = await _verify(credential_or_jwt, resolve_key, resolve_status, now)
    except Exception as exc:
        checks = [Check("format", False, f"the input could not be verified: {type(exc).__name__}")]
        checks += _not_checked(("signature", "schema", "issuer", "validity", "status"), "verification stopped")
    return all(check.passed for check in checks), checks


async def _verify(value: Any, resolve_key: KeyResolver, resolve_status: StatusResolver, now: datetime) -> list[Check]:
    is_jwt = isinstance(value, str)
    rest = (
        ("signature", "claims", "schema", "issuer", "validity", "status")
        if is_jwt
        else ("signature", "schema", "issuer", "validity", "status")
    )

    # format
    payload: dict[str, Any] | None = None
    kid: Any = None
    try:
        if is_jwt:
            header, payload = vcjwt.decode_unverified(value)
            credential: Mapping[str, Any] = vcjwt.credential_of(payload)
            kid = header.get("kid")
        elif isinstance(value, Mapping):
            credential = value
        else:
            raise _Rejected(f"expected a credential object or a VC-JWT string, got {type(value).__name__}")
        _shape(credential)
        problem = _format_problems(credential, embedded=not is_jwt)
        if problem:
            raise _Rejected(problem)
    except (_Rejected, ValueError) as exc:
        return [Check("format", False, str(exc)), *_not_checked(rest, "the input is not a well-formed credential")]
    kind = "VC-JWT" if is_jwt else "credential with an embedded proof"
    checks = [Check("format", True, f"an OpenBadgeCredential ({kind})")]

    # signature (the key is resolved once, asynchronously, then used by the synchronous verifiers)
    if not is_jwt:
        proof = integrity.proof_of(credential) or {}
        kid = proof.get("verificationMethod")
    key: Ed25519PublicKey | None = None
    key_problem = ""
    if isinstance(kid, str) and kid:
        try:
            key = await resolve_key(kid)
        except Exception as exc:
            key_problem = f"looking up {kid} failed ({type(exc).__name__})"
    if is_jwt:
        signature, verified_payload = vcjwt.verify_jwt_payload(value, lambda _kid: key)
        if verified_payload is not None:
            payload = verified_payload
            credential = vcjwt.credential_of(verified_payload)
    else:
        signature = integrity.verify_proof(credential, lambda _kid: key)
    if key_problem and not signature.passed:
        signature = Check("signature", False, key_problem)
    checks.append(signature)

    # claims (VC-JWT only)
    if is_jwt and payload is not None:
        checks.append(_guard("claims", lambda: vcjwt.claims_check(payload, credential)))

    # schema
    checks.append(_guard("schema", lambda: _schema(credential)))

    # issuer
    checks.append(_guard("issuer", lambda: _issuer(credential, kid, key)))

    # validity
    checks.append(_guard("validity", lambda: _validity(credential, now)))

    # status
    try:
        checks.append(await _status(credential, resolve_status))
    except Exception as exc:
        checks.append(Check("status", False, f"the status could not be checked ({type(exc).__name__})"))
    return checks


def _guard(name: str, run: Callable[[], Check]) -> Check:
    try:
        return run()
    except RecursionError:
        return Check(name, False, "the credential is nested too deeply to check")
    except Exception as exc:
        return Check(name, False, f"the check could not run ({type(exc).__name__})")


def _schema(credential: Mapping[str, Any]) -> Check:
    problems = schema.schema_errors(credential)
    if not problems:
        return Check("schema", True, "valid against the OBv3 AchievementCredential JSON Schema")
    listed = "; ".join(f"{problem.path}: {problem.message}" for problem in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return Check("schema", False, listed + more)


def _issuer(credential: Mapping[str, Any], kid: Any, key: Ed25519PublicKey | None) -> Check:
    issuer_id = _issuer_id(credential)
    if not isinstance(kid, str) or not kid:
        return Check("issuer", False, "the credential names no signing key")
    if did_of_kid(kid) != issuer_id:
        return Check("issuer", False, f"the signing key {kid} does not belong to the issuer {issuer_id}")
    if key is None:
        return Check("issuer", False, f"the issuer's key {kid} could not be resolved")
    return Check("issuer", True, f"signed by a published key of {issuer_id}")


def _validity(credential: Mapping[str, Any], now: datetime) -> Check:
    valid_from = parse_datetime(credential.get("validFrom"))
    if valid_from is None:
        return Check("validity", False, "validFrom is missing or not a date-time with a time zone")
    if now < valid_from:
        return Check("validity", False, f"not valid before {credential.get('validFrom')}")
    if credential.get("validUntil") is not None:
        valid_until = parse_datetime(credential.get("validUntil"))
        if valid_until is None:
            return Check("validity", False, "validUntil is not a date-time with a time zone")
        if now >= valid_until:
            return Check("validity", False, f"expired at {credential.get('validUntil')}")
        return Check("validity", True, f"valid from {credential.get('validFrom')} until {credential.get('validUntil')}")
    return Check("validity", True, f"valid from {credential.get('validFrom')}, no expiry")


async def _status(credential: Mapping[str, Any], resolve_status: StatusResolver) -> Check:
    entries = credential.get("credentialStatus")
    if entries is None:
        return Check("status", True, "the credential has no credentialStatus (it cannot be revoked)")
    for entry in _as_list(entries):
        if not isinstance(entry, Mapping) or entry.get("type") != "BitstringStatusListEntry":
            return Check("status", False, "credentialStatus is not a BitstringStatusListEntry")
        if entry.get("statusPurpose") != "revocation":
            continue  # suspension or messages would be shown, not fail verification; we only issue revocation
        revoked = await resolve_status(entry)
        if revoked is None:
            return Check("status", False, f"the status list {entry.get('statusListCredential')} could not be checked")
        if revoked:
            return Check("status", False, "the credential has been revoked")
    return Check("status", True, "not revoked")
