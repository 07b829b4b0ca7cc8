"""Cross-cutting behaviour: correlation ids, one error shape (404, 405, 413, 422, 500),
CORS from configuration, the body size limit, rate limits shared through PostgreSQL."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.test_api_support import api_server, assert_error, fields, register


@pytest.fixture(scope="module")
async def server(pg_url):
    async with api_server(pg_url, cors_origins="https://app.example.com, https://b.example",
                          max_body_bytes=4096) as srv:
        yield srv


@pytest.fixture
async def http(server, pool):
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def test_correlation_id_is_echoed_when_valid_and_made_otherwise(http):
    echoed = await http.get("/api/clients", headers={"X-Correlation-ID": "req-12345678"})
    assert echoed.headers["x-correlation-id"] == "req-12345678"
    assert echoed.json()["correlation_id"] == "req-12345678"
    for bad in ("short", "has spaces in it", "x" * 200, "<script>alert(1)</script>"):
        made = await http.get("/api/clients", headers={"X-Correlation-ID": bad})
        assert made.headers["x-correlation-id"] != bad
        assert len(made.headers["x-correlation-id"]) == 32
    assert "x-correlation-id" in (await http.get("/healthz")).headers
    user = await register(http)
    ok = await user.get("/api/clients")
    assert ok.status_code == 200 and len(ok.headers["x-correlation-id"]) == 32


async def test_unknown_route_wrong_method_and_bad_json_share_the_error_shape(http):
    assert_error(await http.get("/api/nothing-here"), 404, "not_found")
    assert_error(await http.put("/api/auth/login", json={}), 405, "method_not_allowed")
    bad_json = await http.post("/api/auth/login", content=b"{not json",
                               headers={"Content-Type": "application/json"})
    assert_error(bad_json, 422, "validation_error")
    assert fields(await http.post("/api/auth/login", json=[1, 2])) == {"body"}
    user = await register(http)
    assert_error(await user.get("/api/clients/abc"), 422)
    assert fields(await user.get("/api/clients/0")) == {"client_id"}
    assert fields(await user.get(f"/api/clients/{2**63}")) == {"client_id"}


async def test_an_unhandled_error_is_a_500_in_the_same_shape(server, http):
    async def boom() -> None:
        raise RuntimeError("secret internals")

    server.app.add_api_route("/api/_test/boom", boom)
    response = await http.get("/api/_test/boom", headers={"X-Correlation-ID": "boom-request-1"})
    body = assert_error(response, 500, "internal_error")
    assert body["correlation_id"] == "boom-request-1"
    assert "secret internals" not in response.text


async def test_text_postgresql_cannot_store_is_refused_not_a_500(http):
    user = await register(http)
    client = await user.create_client()
    search = await user.get(f"/api/clients/{client['id']}/contacts", params={"search": "a\x00"})
    assert fields(search) == {"search"}
    bad = await user.post(f"/api/clients/{client['id']}/contacts",
                          content=b'{"phone_number": "+14155550144", "name": "\\ud800"}',
                          headers={"Content-Type": "application/json"})
    assert fields(bad) == {"name"}
    inf = await user.put(f"/api/clients/{client['id']}/settings/custom",
                         content=b'{"value": 1e999}', headers={"Content-Type": "application/json"})
    assert inf.status_code == 400


async def test_body_size_limit_declared_or_streamed(http):
    big = await http.post("/api/auth/login", json={"email": "a@example.com",
                                                   "password": "x" * 5000})
    assert_error(big, 413, "payload_too_large")

    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    streamed = await http.post("/api/auth/login", content=chunks(),
                               headers={"Content-Type": "application/json"})
    assert_error(streamed, 413, "payload_too_large")


async def test_cors_allows_only_configured_origins(http):
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    allowed = await http.options("/api/clients",
                                 headers={"Origin": "https://app.example.com"} | preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    refused = await http.options("/api/clients",
                                 headers={"Origin": "https://evil.example"} | preflight)
    assert "access-control-allow-origin" not in refused.headers
    simple = await http.get("/api/clients", headers={"Origin": "https://b.example"})
    assert simple.headers["access-control-allow-origin"] == "https://b.example"
    assert "X-RateLimit-Remaining" in simple.headers["access-control-expose-headers"]


async def test_no_cors_headers_when_no_origin_is_configured(pool, pg_url):
    async with api_server(pg_url) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        response = await http.get("/api/clients", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers


async def test_rate_limit_per_user_and_per_key_with_headers_and_429(pool, pg_url):
    async with api_server(pg_url, rate_limit_requests=3,
                          rate_limit_window_seconds=3600) as srv, \
            httpx.AsyncClient(base_url=srv.url) as http:
        user = await register(http)
        key = (await user.create_key("read:clients"))["key"]  # the user's 1st request
        seen = [await user.get("/api/clients") for _ in range(3)]
        by_key = await http.get("/api/clients", headers={"X-API-Key": key})
    assert [r.status_code for r in seen] == [200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in seen] == ["1", "0", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "3" for r in seen)
    limited = assert_error(seen[2], 429, "rate_limited")
    assert "3 requests per 3600 s" in limited["detail"]
    assert 0 < int(seen[2].headers["retry-after"]) <= 3600
    assert int(seen[2].headers["x-ratelimit-reset"]) > time.time()
    # The key has its own bucket.
    assert by_key.status_code == 200 and by_key.headers["x-ratelimit-remaining"] == "2"
    assert await pool.fetchval("SELECT hits FROM rate_limits WHERE bucket = $1",
                               f"user:{user.id}") == 4


async def test_processes_share_one_count(pool, pg_url):
    settings = {"rate_limit_requests": 2, "rate_limit_window_seconds": 3600}
    async with api_server(pg_url, **settings) as one, api_server(pg_url, **settings) as two, \
            httpx.AsyncClient() as http:
        user = await register(httpx.AsyncClient(base_url=one.url))
        first = await http.get(f"{one.url}/api/clients", headers=user.auth)
        second = await http.get(f"{two.url}/api/clients", headers=user.auth)
        third = await http.get(f"{one.url}/api/clients", headers=user.auth)
        await user.http.aclose()
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.headers["x-ratelimit-remaining"] == "0"
    assert_error(third, 429)
