"""JSON-LD canonicalization (RDFC-1.0 / URDNA2015) over bundled contexts only.

The document loader serves the files in ``app/lib/vc/data/`` and refuses every other URL: nothing is
fetched at run time, so a credential naming an unknown context fails to canonicalize instead of making
the server call out (SSRF, tracking, a slow or hostile host).

Speed (``benchmarks/credentials.py``; pyld 3.3, one OBv3 credential; ADR 0011 has the figures): plain pyld
with the same files takes ~7-9 ms of CPU, this module ~1-2 ms, with byte-identical output (tested):
- The loader tags its documents ``static`` so pyld keeps the *resolved* contexts in our shared cache
  (untagged remote documents are re-loaded and re-hashed on every call).
- pyld processes a type-scoped context (``propagate: false``) against a fresh clone of the active context
  each time, so its per-context cache never hits (its own TODO, "previousContext cloning optimization").
  ``_Processor`` memoizes those results for the bundled contexts only, keyed by the active context's id,
  which pyld itself treats as immutable once processed.
- Canonical forms are kept in an LRU keyed by the SHA-256 of the input's canonical JSON (sorted keys,
  no whitespace), so verifying the same credential again does not canonicalize it again. Two inputs with
  the same key are the same JSON value, so they have the same canonical N-Quads. Signing skips it.

"Safe mode": a property that no context defines makes canonicalization fail (``UndefinedTerm``) instead of
vanishing from the RDF, which would leave it outside what a proof covers.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from cachetools import LRUCache
from pyld import jsonld as pyld_jsonld  # type: ignore[import-untyped]
from pyld.context_resolver import ContextResolver  # type: ignore[import-untyped]

DATA = Path(__file__).parent / "data"

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_V3_EXTENSIONS = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"

BUNDLED: dict[str, str] = {
    VC_V2: "credentials-v2.jsonld",
    OB_V3: "ob-v3p0-context-3.0.3.json",
    OB_V3_EXTENSIONS: "ob-v3p0-extensions.json",
    DATA_INTEGRITY_V2: "data-integrity-v2.jsonld",
    MULTIKEY_V1: "multikey-v1.jsonld",
}


class ContextNotBundled(pyld_jsonld.JsonLdError):  # type: ignore[misc]
    """A document named a context URL that is not bundled; nothing was fetched."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"context {url!r} is not bundled (contexts are never fetched)",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading document failed",
        )


def _walk_ids(value: Any, into: set[int]) -> None:
    if isinstance(value, dict):
        into.add(id(value))
        for item in value.values():
            _walk_ids(item, into)
    elif isinstance(value, list):
        for item in value:
            _walk_ids(item, into)


@cache
def _documents() -> tuple[dict[str, Any], frozenset[int]]:
    documents = {url: json.loads((DATA / name).read_text(encoding="utf-8")) for url, name in BUNDLED.items()}
    ids: set[int] = set()
    _walk_ids(documents, ids)
    return documents, frozenset(ids)


def bundled_document(url: str) -> dict[str, Any]:
    """A deep copy of a bundled document (callers may mutate it)."""
    documents, _ = _documents()
    if url not in documents:
        raise ContextNotBundled(url)
    return copy.deepcopy(documents[url])


def document_loader(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """pyld document loader: the bundled files, and nothing else (no network)."""
    documents, _ = _documents()
    document = documents.get(url)
    if document is None:
        raise ContextNotBundled(url)
    # "static" makes pyld keep the resolved context across operations. The shared objects are never
    # mutated: our contexts hold no relative @context URLs for pyld to rewrite in place.
    return {"contextUrl": None, "documentUrl": url, "document": document, "tag": "static"}


class UndefinedTerm(pyld_jsonld.JsonLdError):  # type: ignore[misc]
    """A property the document's contexts do not define: expansion would drop it, so a proof would not
    cover it (jsonld.js "safe mode" refuses the same documents)."""

    def __init__(self, term: object) -> None:
        super().__init__(
            f"property {term!r} is not defined by the document's contexts (a proof could not cover it)",
            "jsonld.ValidationError",
            {"term": term},
            code="undefined term",
        )


def _refuse_dropped(term: object) -> None:
    raise UndefinedTerm(term)


class _Processor(pyld_jsonld.JsonLdProcessor):  # type: ignore[misc]
    """pyld's processor in "safe mode" (an undefined property raises instead of vanishing), with
    type-scoped (non-propagating) bundled contexts memoized."""

    def __init__(self) -> None:
        super().__init__(on_property_dropped=_refuse_dropped)

    _scoped: LRUCache[tuple[str, int], Any] = LRUCache(maxsize=4096)
    _lock = threading.Lock()

    def _process_context(
        self,
        active_ctx: Any,
        local_ctx: Any,
        options: Any,
        override_protected: bool = False,
        propagate: bool = True,
        validate_scoped: bool = True,
        cycles: Any = None,
    ) -> Any:
        uuid = active_ctx.get("_uuid") if isinstance(active_ctx, dict) else None
        if propagate or override_protected or uuid is None or id(local_ctx) not in _documents()[1]:
            return super()._process_context(
                active_ctx, local_ctx, options, override_protected, propagate, validate_scoped, cycles
            )
        key = (uuid, id(local_ctx))
        with self._lock:
            hit = self._scoped.get(key)
        if hit is not None:
            return hit
        result = super()._process_context(
            active_ctx, local_ctx, options, override_protected, propagate, validate_scoped, cycles
        )
        if "_uuid" not in result:  # give it a stable identity so what is derived from it is cached too
            result["_uuid"] = f"lyceum-{uuid}-{id(local_ctx)}"
        with self._lock:
            self._scoped[key] = result
        return result


# pyld's resolved-context cache for our loader only (its module-level cache is keyed by URL whatever the
# loader, so sharing it could serve a context another loader fetched).
_resolved: LRUCache[str, Any] = LRUCache(maxsize=256)
_canonical: LRUCache[bytes, str] = LRUCache(maxsize=4096)
_canonical_lock = threading.Lock()
# pyld's caches (ours and its module-level inverse-context cache) are plain LRU dicts, not thread-safe.
# Canonicalization is pure Python, so under the GIL a lock costs no parallelism and rules out races when
# callers run it in worker threads.
_pyld_lock = threading.Lock()


def _options() -> dict[str, Any]:
    return {
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
        "documentLoader": document_loader,
        "contextResolver": ContextResolver(_resolved, document_loader),
        # No base IRI: a relative IRI is dropped, as jsonld.js does, instead of resolved against pyld's
        # "http://example.org/base/" (which would make our canonical form differ from every other verifier's).
        "base": None,
    }


def _root_cause(exc: BaseException) -> BaseException:
    """pyld wraps errors ("Could not convert input to RDF dataset"); surface ours, which say what is wrong."""
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ContextNotBundled | UndefinedTerm):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__
    return exc


def json_key(document: Any) -> bytes:
    """SHA-256 of the canonical JSON of ``document`` (sorted keys, compact separators)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).digest()


def canonicalize(document: Mapping[str, Any], *, use_cache: bool = True) -> str:
    """RDFC-1.0 (URDNA2015) canonical N-Quads of a JSON-LD document, contexts from the bundle only.

    Raises ``pyld.jsonld.JsonLdError`` on bad JSON-LD: a foreign context (``ContextNotBundled``) or a
    property no context defines (``UndefinedTerm``: silently dropping it would leave it unsigned).
    """
    key = json_key(document) if use_cache else b""
    if use_cache:
        with _canonical_lock:
            hit = _canonical.get(key)
        if hit is not None:
            return hit
    # No copy here: pyld's expansion deep-copies its input before touching it.
    try:
        with _pyld_lock:
            result: str = _Processor().normalize(dict(document), _options())
    except pyld_jsonld.JsonLdError as exc:
        root = _root_cause(exc)
        if root is exc:
            raise
        raise root from None  # "from exc" would make a cycle: root is already in exc's cause chain
    if use_cache:
        with _canonical_lock:
            _canonical[key] = result
    return result


def expand(document: Mapping[str, Any]) -> list[Any]:
    """JSON-LD expansion with the bundled loader (tests and tools)."""
    options = {"documentLoader": document_loader, "contextResolver": ContextResolver(_resolved, document_loader)}
    with _pyld_lock:
        return pyld_jsonld.expand(copy.deepcopy(dict(document)), options)  # type: ignore[no-any-return]


def compact(document: Any, context: Any) -> dict[str, Any]:
    """JSON-LD compaction with the bundled loader (tests and tools)."""
    options = {"documentLoader": document_loader, "contextResolver": ContextResolver(_resolved, document_loader)}
    with _pyld_lock:
        return pyld_jsonld.compact(copy.deepcopy(document), copy.deepcopy(context), options)  # type: ignore[no-any-return]


def clear_caches() -> None:
    """Forget canonical forms and processed contexts (benchmarks measure the cold path with this)."""
    with _canonical_lock:
        _canonical.clear()
    with _pyld_lock, _Processor._lock:
        _Processor._scoped.clear()
        _resolved.clear()
