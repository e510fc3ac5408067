"""The course file's JSON Schema for the browser editor's completion (``GET /v1/authoring/schema``).

Generated with ``msgspec.json.schema`` from :class:`app.content.schema.Course`, the very Struct the YAML
loader decodes a course into (``lyceum courses validate`` and ``POST /v1/authoring/validate``), so what the
editor offers can never drift from what validation accepts. Built once per process: the Structs only change
with a deploy, and the ETag (a hash of the encoded document) lets the browser revalidate for free."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from app.content.schema import Course

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class CourseSchema:
    document: dict[str, Any]
    etag: str  # a strong validator: the first 128 bits of the encoded document's SHA-256, quoted


@functools.cache
def course_schema() -> CourseSchema:
    document: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT, **msgspec.json.schema(Course)}
    encoded = msgspec.json.encode(document, order="sorted")
    return CourseSchema(document, f'"{hashlib.sha256(encoded).hexdigest()[:32]}"')
