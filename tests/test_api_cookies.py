"""Browser sessions in cookies: HttpOnly tokens, CSRF on writes, refresh and logout."""

from __future__ import annotations

import httpx
import pytest

from tests.test_api_support import PASSWORD, api_server, assert_error, register


@pytest.fixture
async def server(pool, pg_url):
    async with api_server(pg_url) as srv:
        yield srv


async def browser_login(browser: httpx.AsyncClient, email: str) -> None:
    response = await browser.post("/api/auth/login", json={
        "email": email, "password": PASSWORD, "use_cookies": True})
    assert response.status_code == 200, response.text
    assert response.json()["access_token"] == "" and response.json()["refresh_token"] == ""
    set_cookie = response.headers.get_list("set-cookie")
    by_name = {c.split("=", 1)[0]: c.lower() for c in set_cookie}
    assert {"fd_access", "fd_refresh", "fd_csrf"} <= set(by_name)
    for name in ("fd_access", "fd_refresh"):
        assert "httponly" in by_name[name] and "samesite=strict" in by_name[name]
    assert "httponly" not in by_name["fd_csrf"]  # the page reads it to echo it
    assert "path=/api/auth" in by_name["fd_refresh"]


def csrf(browser: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": browser.cookies["fd_csrf"]}


async def test_a_cookie_session_reads_and_writes_only_with_the_csrf_header(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        dana = await register(http)
    async with httpx.AsyncClient(base_url=server.url) as browser:
        await browser_login(browser, dana.email)
        me = await browser.get("/api/auth/me")
        assert me.status_code == 200 and me.json()["email"] == dana.email
        body = {"preferences": {"theme": "dark"}}
        assert_error(await browser.put("/api/settings", json=body), 403, "csrf_failed")
        forged = await browser.put("/api/settings", json=body, headers={"X-CSRF-Token": "x"})
        assert_error(forged, 403, "csrf_failed")
        ok = await browser.put("/api/settings", json=body, headers=csrf(browser))
        assert ok.status_code == 200 and ok.json()["preferences"] == {"theme": "dark"}


async def test_a_cookie_session_refreshes_and_logs_out(server, pool):
    async with httpx.AsyncClient(base_url=server.url) as http:
        dana = await register(http)
    async with httpx.AsyncClient(base_url=server.url) as browser:
        await browser_login(browser, dana.email)
        old_refresh = browser.cookies["fd_refresh"]
        assert_error(await browser.post("/api/auth/refresh", json={}), 403, "csrf_failed")
        rotated = await browser.post("/api/auth/refresh", json={}, headers=csrf(browser))
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["refresh_token"] == ""
        assert browser.cookies["fd_refresh"] != old_refresh
        access = browser.cookies["fd_access"]

        out = await browser.post("/api/auth/logout", json={}, headers=csrf(browser))
        assert out.status_code == 204
        assert "fd_access" not in browser.cookies
        revoked = await pool.fetchval("SELECT count(*) FROM refresh_tokens WHERE user_id = $1"
                                      " AND revoked_at IS NULL", dana.id)
        assert revoked == 1  # the register's session; the browser's has ended
        # The access token of the ended session is refused even if it was kept.
        kept = await browser.get("/api/auth/me", cookies={"fd_access": access})
        assert kept.status_code == 401


async def test_without_cookies_the_body_holds_the_tokens_as_before(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        dana = await register(http)
        login = await http.post("/api/auth/login", json={"email": dana.email,
                                                         "password": PASSWORD})
        assert login.json()["access_token"] and "set-cookie" not in login.headers
        no_token = await http.post("/api/auth/refresh", json={})
        assert_error(no_token, 401, "invalid_refresh_token")
