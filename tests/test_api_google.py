"""Google sign-in against a local OAuth server: authorization URL, state, PKCE, callback."""

from __future__ import annotations

import httpx
import pytest

from tests.test_api_support import (
    api_server,
    assert_error,
    fake_google,
    fields,
    query,
    register,
)


@pytest.fixture
async def google():
    async with fake_google() as g:
        yield g


@pytest.fixture
async def server(pool, pg_url, google):
    async with api_server(pg_url, **google.settings()) as srv:
        yield srv


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def sign_in(http: httpx.AsyncClient, **extra: str) -> httpx.Response:
    started = await http.post("/api/auth/google/initiate")
    assert started.status_code == 200
    url = started.json()["authorization_url"]
    # The browser's trip: Google's page, then its redirect back to our callback.
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        return await browser.get(url + "".join(f"&{k}={v}" for k, v in extra.items()))


async def test_initiate_builds_a_pkce_authorization_url(http, google, server):
    body = (await http.post("/api/auth/google/initiate")).json()
    assert body["authorization_url"].startswith(f"{google.url}/authorize?")
    q = query(body["authorization_url"])
    assert q["client_id"] == google.client_id and q["state"] == body["state"]
    assert q["redirect_uri"] == f"{server.url}/api/auth/google/callback"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert "email" in q["scope"].split()


async def test_first_sign_in_creates_the_user_and_the_next_finds_it(http, google, pool):
    first = await sign_in(http)
    assert first.status_code == 200, first.text
    user = first.json()["user"]
    assert user["email"] == "googler@example.com" and user["google_linked"] is True
    assert await pool.fetchval("SELECT google_sub FROM users WHERE id = $1",
                               user["id"]) == "google-sub-1"
    assert await pool.fetchval("SELECT password_hash FROM users WHERE id = $1", user["id"]) is None
    me = await http.get("/api/auth/me",
                        headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert me.json()["id"] == user["id"]
    again = await sign_in(http)
    assert again.json()["user"]["id"] == user["id"]
    assert await pool.fetchval("SELECT count(*) FROM users") == 1
    assert google.token_requests[0]["client_secret"] == google.client_secret


async def test_a_verified_google_email_links_the_existing_account(http, google, pool):
    owner = await register(http, "googler@example.com")
    signed = await sign_in(http)
    assert signed.json()["user"]["id"] == owner.id
    assert await pool.fetchval("SELECT google_sub FROM users WHERE id = $1",
                               owner.id) == "google-sub-1"


async def test_unverified_email_denial_and_bad_state_are_refused(http, google, pool):
    google.profile["email_verified"] = False
    assert_error(await sign_in(http), 400, "unverified_email")
    assert_error(await sign_in(http, deny="1"), 400, "oauth_denied")
    forged = await http.get("/api/auth/google/callback", params={"state": "made-up",
                                                                 "code": "x"})
    assert_error(forged, 400, "invalid_state")
    assert_error(await http.get("/api/auth/google/callback"), 400, "invalid_state")
    assert await pool.fetchval("SELECT count(*) FROM users") == 0


async def test_state_is_single_use_and_expires(http, google, pool):
    started = (await http.post("/api/auth/google/initiate")).json()
    async with httpx.AsyncClient() as browser:
        redirect = await browser.get(started["authorization_url"])
    callback = redirect.headers["location"]
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(callback)).status_code == 200
        assert_error(await browser.get(callback), 400, "invalid_state")

    started = (await http.post("/api/auth/google/initiate")).json()
    await pool.execute("UPDATE oauth_states SET expires_at = now() - interval '1 second'")
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        assert_error(await browser.get(started["authorization_url"]), 400, "invalid_state")


async def test_a_code_from_another_login_does_not_fit(http, google):
    # PKCE: a code is only good with the verifier of the state that asked for it.
    a = (await http.post("/api/auth/google/initiate")).json()
    b = (await http.post("/api/auth/google/initiate")).json()
    async with httpx.AsyncClient() as browser:
        code_a = query((await browser.get(a["authorization_url"])).headers["location"])["code"]
    crossed = await http.get("/api/auth/google/callback",
                             params={"state": b["state"], "code": code_a})
    assert_error(crossed, 400, "oauth_exchange_failed")


async def test_not_configured_is_503(pool, pg_url):
    async with api_server(pg_url) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        assert_error(await http.post("/api/auth/google/initiate"), 503, "google_not_configured")


async def test_a_front_end_can_post_googles_redirect_as_json(http, google, pool):
    """The FrontDesk API's JSON ``POST /auth/google/callback``: the same handler as the GET."""
    started = (await http.post("/api/auth/google/initiate")).json()
    async with httpx.AsyncClient() as browser:   # Google's page redirects to the front end
        redirect = await browser.get(started["authorization_url"])
    back = query(redirect.headers["location"])
    signed = await http.post("/api/auth/google/callback",
                             json={"code": back["code"], "state": back["state"]})
    assert signed.status_code == 200, signed.text
    assert signed.json()["user"]["email"] == "googler@example.com"
    # The state was single-use, whichever way it came back.
    again = await http.post("/api/auth/google/callback",
                            json={"code": back["code"], "state": back["state"]})
    assert_error(again, 400, "invalid_state")
    assert fields(await http.post("/api/auth/google/callback", json={"bogus": 1})) == {"bogus"}
