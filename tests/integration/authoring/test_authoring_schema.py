"""The course file's JSON Schema for the editor's completion (issue 17): generated from the Struct the loader
validates with, so its properties are the course's fields, its enums the allowed values; cacheable (ETag, 304
on If-None-Match); instructors and admins only."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.content.schema import ASSESSMENT_TYPES, BLOOM_LEVELS, Course, Item, Module
from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]
SCHEMA = "/v1/authoring/schema"


@pytest.fixture(scope="module")
async def instructor(client: Client) -> dict[str, str]:
    return await auth_headers(client, "instructor@demo.test", "demo")


@pytest.fixture(scope="module")
async def learner(client: Client) -> dict[str, str]:
    return await auth_headers(client, "learner@demo.test", "demo")


def fields(struct: type[msgspec.Struct]) -> set[str]:
    return {field.encode_name for field in msgspec.structs.fields(struct)}


def definition(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    name = ref.removeprefix("#/$defs/")
    found: dict[str, Any] = schema["$defs"][name]
    return found


async def test_schema_is_the_course_structs(client: Client, instructor: dict[str, str]) -> None:
    response = await client.get(SCHEMA, headers=instructor)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    schema = response.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    course = definition(schema, schema["$ref"])
    assert set(course["properties"]) == fields(Course)
    assert set(course["required"]) == {"slug", "title", "competencies", "modules"}
    assert course["additionalProperties"] is False
    module = definition(schema, course["properties"]["modules"]["items"]["$ref"])
    assert set(module["properties"]) == fields(Module)
    item = definition(schema, module["properties"]["items"]["items"]["$ref"])
    assert set(item["properties"]) == fields(Item)
    assert sorted(item["properties"]["bloom_level"]["enum"]) == sorted(BLOOM_LEVELS)
    # The assessment is a tagged union on `type`: every member names its tag.
    union = item["properties"]["assessment"]["anyOf"][0]
    assert union["discriminator"]["propertyName"] == "type"
    assert sorted(union["discriminator"]["mapping"]) == sorted(ASSESSMENT_TYPES)
    tags = [definition(schema, member["$ref"])["properties"]["type"]["enum"] for member in union["anyOf"]]
    assert sorted(tag for [tag] in tags) == sorted(ASSESSMENT_TYPES)


async def test_schema_is_cacheable(client: Client, instructor: dict[str, str]) -> None:
    first = await client.get(SCHEMA, headers=instructor)
    etag = first.headers["etag"]
    assert len(etag) == 34  # a quoted (strong) validator
    assert etag[0] == etag[-1] == '"'
    assert first.headers["cache-control"] == "private, no-cache"
    again = await client.get(SCHEMA, headers=instructor)
    assert again.headers["etag"] == etag  # the same document every time

    unchanged = await client.get(SCHEMA, headers={**instructor, "If-None-Match": f'"other", W/{etag}'})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    changed = await client.get(SCHEMA, headers={**instructor, "If-None-Match": '"stale"'})
    assert changed.status_code == 200
    assert changed.json() == first.json()


async def test_schema_is_for_staff_only(client: Client, learner: dict[str, str]) -> None:
    denied = await client.get(SCHEMA, headers=learner)
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(SCHEMA)).status_code == 401
