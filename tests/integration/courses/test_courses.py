"""Course catalogue, detail, items and idempotent enrollment; other orgs' courses are 404."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.stack import auth_headers

Client = AsyncTestClient[Litestar]


async def test_course_list_is_paginated_and_org_scoped(client: Client) -> None:
    demo = await auth_headers(client, "learner@demo.test", "demo")
    response = await client.get("/v1/courses", headers=demo)
    assert response.status_code == 200
    page = response.json()
    assert {"items", "total", "limit", "offset"} <= set(page)
    slugs = {c["slug"] for c in page["items"]}
    assert "acme-secure-coding" not in slugs
    assert page["total"] >= 3

    first = (await client.get("/v1/courses", params={"limit": 1}, headers=demo)).json()
    assert len(first["items"]) == 1
    assert first["limit"] == 1
    assert first["next"] is not None
    assert "offset=1" in first["next"]


async def test_huge_limit_is_clamped(client: Client) -> None:
    demo = await auth_headers(client, "learner@demo.test", "demo")
    for huge in (10**12, "9" * 400):
        response = await client.get("/v1/courses", params={"limit": huge}, headers=demo)
        assert response.status_code == 200
        assert response.json()["limit"] == 100


async def test_bad_paging_values_are_problems(client: Client) -> None:
    demo = await auth_headers(client, "learner@demo.test", "demo")
    for params in ({"limit": 0}, {"offset": -1}, {"limit": "many"}, {"offset": "9" * 400}):
        response = await client.get("/v1/courses", params=params, headers=demo)
        assert 400 <= response.status_code < 500, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_search(client: Client) -> None:
    demo = await auth_headers(client, "learner@demo.test", "demo")
    every = (await client.get("/v1/courses", headers=demo)).json()["items"]
    word = every[0]["title"].split()[0]
    found = (await client.get("/v1/courses", params={"q": word}, headers=demo)).json()["items"]
    assert every[0]["id"] in {c["id"] for c in found}
    none = (await client.get("/v1/courses", params={"q": "zzqx-nothing%_"}, headers=demo)).json()
    assert none["items"] == []
    assert none["total"] == 0


async def test_course_detail_and_item(client: Client) -> None:
    demo = await auth_headers(client, "learner@demo.test", "demo")
    course_id = (await client.get("/v1/courses", headers=demo)).json()["items"][0]["id"]
    detail = await client.get(f"/v1/courses/{course_id}", headers=demo)
    assert detail.status_code == 200
    course = detail.json()
    assert course["modules"]
    assert course["competencies"]
    items = [i for m in course["modules"] for i in m["items"]]
    assert any(i["prerequisites"] for i in items)
    cached = await client.get(f"/v1/courses/{course_id}", headers=demo)
    assert cached.json() == course
    item = await client.get(f"/v1/courses/{course_id}/items/{items[0]['id']}", headers=demo)
    assert item.status_code == 200
    assert item.json()["body"]
    assert "solution" not in item.json()


async def test_course_of_another_org_is_404(client: Client) -> None:
    acme = await auth_headers(client, "learner@acme.test", "acme")
    acme_courses = (await client.get("/v1/courses", headers=acme)).json()["items"]
    secret = next(c for c in acme_courses if c["slug"] == "acme-secure-coding")
    demo = await auth_headers(client, "learner@demo.test", "demo")
    for method, path in (("GET", f"/v1/courses/{secret['id']}"), ("POST", f"/v1/courses/{secret['id']}/enrollments")):
        response = await client.request(method, path, headers=demo)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_enrolling_twice_returns_the_same_enrollment(client: Client) -> None:
    demo = await auth_headers(client, "learner@demo.test", "demo")
    course_id = (await client.get("/v1/courses", headers=demo)).json()["items"][-1]["id"]
    first = await client.post(f"/v1/courses/{course_id}/enrollments", headers=demo)
    second = await client.post(f"/v1/courses/{course_id}/enrollments", headers=demo)
    assert first.status_code in (200, 201)
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    mine = (await client.get("/v1/enrollments", headers=demo)).json()
    assert first.json()["id"] in {e["id"] for e in mine["items"]}


async def test_malformed_uuid_is_4xx(client: Client) -> None:
    demo = await auth_headers(client, "learner@demo.test", "demo")
    response = await client.get("/v1/courses/not-a-uuid", headers=demo)
    assert 400 <= response.status_code < 500
