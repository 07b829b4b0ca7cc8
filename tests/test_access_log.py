"""The REST API's access log: one frontdesk.access line per /api request, after the
response, with no credential in it (neither a header's nor a query string's)."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from frontdesk import logs
from tests.test_api_support import key_headers, register


@pytest.fixture
def out():
    stream = io.StringIO()
    logs.configure("INFO", fmt="json", stream=stream)
    yield stream
    logs.configure("INFO")


def access_lines(stream: io.StringIO) -> list[dict]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["logger"] == "frontdesk.access"]


async def test_an_api_request_has_one_line_with_status_duration_and_no_credential(server, out):
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        key = (await owner.create_key("read:clients"))["key"]
        out.seek(0)
        out.truncate()
        response = await http.get("/api/clients", headers={
            **key_headers(key), "X-Correlation-ID": "corr-id-12345678"})
        assert response.status_code == 200
        [line] = access_lines(out)
        assert line["method"] == "GET" and line["path"] == "/api/clients"
        assert line["status"] == 200 and isinstance(line["duration_ms"], float)
        assert line["correlation_id"] == "corr-id-12345678"
        assert line["user_id"] == owner.id and isinstance(line["api_key_id"], int)
        assert line["client"] == "127.0.0.1" and "call_sid" not in line
        assert key not in out.getvalue()

        out.seek(0)
        out.truncate()
        assert (await owner.get("/api/auth/me")).status_code == 200   # a signed-in user
        [line] = access_lines(out)
        assert line["user_id"] == owner.id and line["api_key_id"] is None
        assert owner.access_token not in out.getvalue()

        out.seek(0)
        out.truncate()
        refused = await http.get("/api/clients?token=sekrit-in-the-query&limit=5",
                                 headers={"Authorization": "Bearer not-a-valid-token"})
        assert refused.status_code == 401
        [line] = access_lines(out)
        assert line["status"] == 401 and line["path"] == "/api/clients"
        assert line["user_id"] is None and line["api_key_id"] is None
        assert "sekrit" not in out.getvalue() and "not-a-valid-token" not in out.getvalue()


async def test_a_credential_in_the_path_is_not_logged(server, out):
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/api/recordings/eyJhbGciOi.secret-link.sig")
        assert response.status_code in (401, 404)
        [line] = access_lines(out)
        assert line["path"] == "/api/recordings/{token}"
        assert "secret-link" not in out.getvalue()


async def test_voice_health_and_non_api_paths_have_no_access_line(server, out):
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ("/healthz", "/readyz", "/console/login", "/apix"):
            await http.get(path)
        await http.post("/voice", data={"CallSid": "CA1"})
    assert access_lines(out) == []


async def test_in_text_the_access_line_is_one_line_too(server):
    stream = io.StringIO()
    logs.configure("INFO", stream=stream)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            await http.get("/api/clients/1%0a2026-12-01 INFO forged?token=sekrit")
    finally:
        logs.configure("INFO")
    [line] = [x for x in stream.getvalue().splitlines() if "frontdesk.access" in x]
    assert "frontdesk.access: GET /api/clients/1\\x0a2026-12-01 INFO forged 4" in line
    assert " ms cid=" in line and "user=- key=- from 127.0.0.1" in line
    assert "sekrit" not in stream.getvalue()
