"""Content-addressed object store for AI conversation text.

PostgreSQL keeps only the SHA-256 hash and the object key; the bytes live here. Identical content
hashes to the same key, so it is stored once. The default backend is the local filesystem under the
data dir; an S3-compatible backend can implement the same three methods. ``delete`` exists for the data
rights (issue 18 item 5): retention purges, erasure and expired exports remove files; callers check first
that no other row still points at a content-addressed key.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredObject:
    content_hash: str
    key: str
    created: bool  # False when identical content was already stored


class ObjectStore(Protocol):
    async def put(self, data: bytes, *, namespace: str) -> StoredObject: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> bool: ...


class LocalObjectStore:
    """Files at ``<root>/<namespace>/<hash[:2]>/<hash>``, written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"object key escapes the store: {key!r}")
        return path

    async def put(self, data: bytes, *, namespace: str) -> StoredObject:
        digest = hashlib.sha256(data).hexdigest()
        key = f"{namespace}/{digest[:2]}/{digest}"
        created = await asyncio.to_thread(self._write_once, self._path(key), data)
        return StoredObject(content_hash=digest, key=key, created=created)

    @staticmethod
    def _write_once(path: Path, data: bytes) -> bool:
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> bool:
        """Remove one object; False when it was already gone (a purge or erasure that ran twice)."""

        def _unlink(path: Path) -> bool:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            return True

        return await asyncio.to_thread(_unlink, self._path(key))
