"""The OpenAPI document: valid, complete, served with /docs and /redoc; schemathesis run
against it finds no server error."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from tests.fake_calendars import fake_google_calendar
from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, fake_stripe
from tests.test_api_support import api_server, register

SCHEMATHESIS_EXAMPLES = int(os.environ.get("FRONTDESK_SCHEMATHESIS_EXAMPLES", "10"))
# The coverage phase (boundary values of every parameter, ~2,000 requests, about a minute
# here) runs when asked: FRONTDESK_SCHEMATHESIS_PHASES=examples,coverage,fuzzing
SCHEMATHESIS_PHASES = os.environ.get("FRONTDESK_SCHEMATHESIS_PHASES", "examples,fuzzing")


@pytest.fixture(scope="module")
async def server(pg_url):
    # A local Google: a calendar connected by the fuzzer answers (its grants are refused)
    # instead of being unreachable, which would rightly be a 503. Stripe likewise.
    async with fake_google_calendar() as google, fake_stripe() as stripe_api, api_server(
            pg_url, **google.settings(), microsoft_client_id="mid",
            microsoft_client_secret="ms", microsoft_login_url="http://127.0.0.1:9",
            stripe_secret_key=SECRET_KEY, stripe_webhook_secret=WEBHOOK_SECRET,
            stripe_api_base=stripe_api.url, stripe_price_pro="price_pro",
            stripe_price_enterprise="price_enterprise") as srv:
        yield srv


async def test_the_document_validates_and_the_docs_are_served(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        doc = (await http.get("/openapi.json")).json()
        docs, redoc = await http.get("/docs"), await http.get("/redoc")
    validate(doc)
    assert doc["openapi"].startswith("3.")
    assert docs.status_code == redoc.status_code == 200
    assert "swagger-ui" in docs.text and "redoc" in redoc.text
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "apiKey"}


async def test_the_docs_pages_load_only_assets_served_here(server):
    # Offline (no CDN) the pages must still work: every script, style and icon they name is
    # a path on this server, and it answers.
    async with httpx.AsyncClient(base_url=server.url) as http:
        for page in ("/docs", "/redoc"):
            html = (await http.get(page)).text
            urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
            urls += re.findall(r"""url:\s*["']([^"']+)["']""", html)
            assert urls, page
            assert not [u for u in urls if "//" in u], (page, urls)
            for url in urls:
                asset = await http.get(url)
                assert asset.status_code == 200, (page, url)
            assert "fonts.googleapis" not in html and "cdn.jsdelivr" not in html


async def test_every_operation_is_described(server):
    doc = server.app.openapi()
    schemas = doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary"), where
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok, where
            for code, response in op["responses"].items():
                content = response.get("content", {})
                if code[0] in "45" and "text/html" not in content:  # the OAuth pop-up page
                    ref = content["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorOut"), where
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                name = body["schema"]["$ref"].rsplit("/", 1)[1]
                schema = schemas[name]
                has_examples = "examples" in schema or any(
                    "examples" in p or "$ref" in p or "anyOf" in p
                    for p in schema.get("properties", {}).values())
                assert has_examples, where


async def test_schemathesis_finds_no_server_error(server, tmp_path: Path):
    async with httpx.AsyncClient(base_url=server.url) as http:
        user = await register(http)
        await user.create_client()
    # The CLI in a subprocess: the server runs in this test's event loop and must keep serving.
    cli = Path(sys.executable).with_name("schemathesis")
    proc = await asyncio.create_subprocess_exec(
        str(cli), "run", f"{server.url}/openapi.json",
        "--checks", "not_a_server_error", "--max-examples", str(SCHEMATHESIS_EXAMPLES),
        "--phases", SCHEMATHESIS_PHASES, "--seed", "20261125", "--workers", "2",
        "--header", f"Authorization: Bearer {user.access_token}",
        "--request-timeout", "20", "--suppress-health-check", "all", "--no-color",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await proc.communicate()
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text[-6000:]
