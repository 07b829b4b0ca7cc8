"""/api/auth: register, log in, refresh rotation, logout, me, password reset."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time

import httpx
import jwt
import pytest

from api.auth import issue_access_token
from tests.test_api_support import (
    PASSWORD,
    api_server,
    assert_error,
    fields,
    register,
    smtp_sink,
)


@pytest.fixture
async def server(pool, pg_url):
    async with api_server(pg_url) as srv:
        yield srv


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def test_register_stores_an_argon2_hash_and_signs_in(http, pool):
    user = await register(http, "New.Owner@Example.com")
    row = await pool.fetchrow("SELECT email, password_hash FROM users WHERE id = $1", user.id)
    assert row["email"] == "new.owner@example.com"
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in row["password_hash"]
    me = await user.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["email"] == "new.owner@example.com" and me.json()["full_name"] == "Dana"
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    assert claims["exp"] - int(claims["iat"]) == 15 * 60
    expires = await pool.fetchval("SELECT expires_at - created_at FROM refresh_tokens")
    assert expires.days == 7


async def test_register_refuses_a_taken_email_and_bad_input(http):
    await register(http, "dup@example.com")
    again = await http.post("/api/auth/register",
                            json={"email": "DUP@example.com", "password": PASSWORD})
    assert_error(again, 409, "email_taken")
    short = await http.post("/api/auth/register", json={"email": "a@example.com",
                                                        "password": "short"})
    assert fields(short) == {"password"}
    bad = await http.post("/api/auth/register", json={"email": "not-an-email",
                                                      "password": PASSWORD, "extra": 1})
    assert fields(bad) == {"email", "extra"}


async def test_login_with_the_right_password_only(http):
    user = await register(http)
    ok = await http.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["user"]["id"] == user.id
    wrong = await http.post("/api/auth/login", json={"email": user.email, "password": "nope"})
    assert_error(wrong, 401, "invalid_credentials")
    unknown = await http.post("/api/auth/login", json={"email": "who@example.com",
                                                       "password": PASSWORD})
    assert_error(unknown, 401, "invalid_credentials")
    assert fields(await http.post("/api/auth/login", json={"email": user.email})) == {"password"}


async def test_refresh_rotates_and_a_replayed_token_revokes_the_session(http, pool):
    user = await register(http)
    first = await http.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200
    second_token = first.json()["refresh_token"]
    assert second_token != user.refresh_token
    replay = await http.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_error(replay, 401, "invalid_refresh_token")
    # The replay burned the whole family: the rotated token is dead too.
    stolen = await http.post("/api/auth/refresh", json={"refresh_token": second_token})
    assert_error(stolen, 401, "invalid_refresh_token")
    assert await pool.fetchval("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL") == 0


async def test_logout_revokes_the_refresh_token(http):
    user = await register(http)
    out = await http.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert out.status_code == 204
    again = await http.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_error(again, 401, "invalid_refresh_token")


async def test_logout_ends_the_sessions_access_tokens_and_no_other_session(http):
    user = await register(http)
    login = await http.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    other = {"Authorization": f"Bearer {login.json()['access_token']}"}
    refreshed = await http.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    rotated = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await http.get("/api/auth/me", headers=rotated)).status_code == 200

    out = await http.post("/api/auth/logout",
                          json={"refresh_token": refreshed.json()["refresh_token"]})
    assert out.status_code == 204
    for headers in (user.auth, rotated):   # every access token of the session, old or new
        body = assert_error(await http.get("/api/auth/me", headers=headers), 401,
                            "unauthorized")
        assert "logged out" in body["detail"]
    assert (await http.get("/api/auth/me", headers=other)).status_code == 200


async def test_a_replayed_refresh_token_ends_its_sessions_access_tokens(http):
    user = await register(http)
    first = await http.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200
    replay = await http.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_error(replay, 401, "invalid_refresh_token")
    stolen = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert_error(await http.get("/api/auth/me", headers=stolen), 401, "unauthorized")


async def test_expired_forged_and_refresh_tokens_are_not_access_tokens(http, pool, server):
    user = await register(http)
    secret = await pool.fetchval("SELECT value FROM server_secrets WHERE name = 'jwt'")
    expired = issue_access_token(secret, user.id, ttl=-10)
    forged = issue_access_token("not-the-secret-but-just-as-long-as-one-0123", user.id)
    unsigned = jwt.encode({"sub": str(user.id), "type": "access", "iat": time.time(),
                           "exp": time.time() + 60}, None, algorithm="none")
    for token in (expired, forged, unsigned, user.refresh_token, "garbage"):
        response = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    assert_error(await http.get("/api/auth/me"), 401)
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", user.id)
    assert_error(await user.get("/api/auth/me"), 401)


async def test_profile_update_needs_a_session(http):
    user = await register(http)
    changed = await user.patch("/api/auth/me", json={"full_name": "Dana Q. Owner"})
    assert changed.status_code == 200 and changed.json()["full_name"] == "Dana Q. Owner"
    key = await user.create_key("read:clients")
    by_key = await http.patch("/api/auth/me", json={"full_name": "x"},
                              headers={"X-API-Key": key["key"]})
    assert_error(by_key, 403, "session_required")


async def test_password_reset_by_email_is_single_use_and_ends_old_sessions(pool, pg_url):
    async with smtp_sink() as smtp, api_server(pg_url, smtp_url=smtp.url,
                                               mail_from="desk@example.com") as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        user = await register(http)
        unknown = await http.post("/api/auth/password-reset/request",
                                  json={"email": "nobody@example.com"})
        asked = await http.post("/api/auth/password-reset/request", json={"email": user.email})
        assert unknown.status_code == asked.status_code == 202
        assert unknown.json() == asked.json()
        await asyncio.wait_for(smtp.received.wait(), 10)
        assert len(smtp.messages) == 1
        mail = email.message_from_string(smtp.messages[0], policy=email.policy.default)
        assert mail["To"] == user.email and mail["From"] == "desk@example.com"
        token = re.search(r"token=([A-Za-z0-9_-]+)", mail.get_content()).group(1)
        assert await pool.fetchval("SELECT count(*) FROM password_resets WHERE token_hash = $1",
                                   token) == 0  # stored hashed

        done = await http.post("/api/auth/password-reset/confirm",
                               json={"token": token, "new_password": "a brand new password"})
        assert done.status_code == 204
        reused = await http.post("/api/auth/password-reset/confirm",
                                 json={"token": token, "new_password": "yet another one!"})
        assert_error(reused, 400, "invalid_token")
        assert_error(await user.get("/api/auth/me"), 401)  # issued before the reset
        assert_error(await http.post("/api/auth/refresh",
                                     json={"refresh_token": user.refresh_token}), 401)
        old = await http.post("/api/auth/login", json={"email": user.email,
                                                       "password": PASSWORD})
        assert_error(old, 401)
        new = await http.post("/api/auth/login", json={"email": user.email,
                                                       "password": "a brand new password"})
        assert new.status_code == 200
        fresh = {"Authorization": f"Bearer {new.json()['access_token']}"}
        assert (await http.get("/api/auth/me", headers=fresh)).status_code == 200


async def test_an_expired_reset_token_is_refused(http, pool):
    user = await register(http)
    from api.crypto import token_hash
    from db import password_resets

    await password_resets.insert(pool, user_id=user.id, token_hash=token_hash("tok-expired"),
                                 ttl_seconds=-1)
    response = await http.post("/api/auth/password-reset/confirm",
                               json={"token": "tok-expired", "new_password": "long enough!"})
    assert_error(response, 400, "invalid_token")


async def test_sign_in_endpoints_are_rate_limited_per_address(pool, pg_url):
    async with api_server(pg_url, auth_rate_limit_requests=2,
                          rate_limit_window_seconds=3600) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        body = {"email": "x@example.com", "password": "whatever"}
        first = await http.post("/api/auth/login", json=body)
        second = await http.post("/api/auth/login", json=body)
        third = await http.post("/api/auth/login", json=body)
    assert first.status_code == second.status_code == 401
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert second.headers["x-ratelimit-remaining"] == "0"
    assert_error(third, 429, "rate_limited")
    assert third.headers["x-ratelimit-limit"] == "2"
    assert 0 < int(third.headers["retry-after"]) <= 3600
    assert int(third.headers["x-ratelimit-reset"]) > time.time()


async def test_rows_that_can_no_longer_be_used_are_pruned(http, pool):
    from db import oauth_states, password_resets, refresh_tokens

    user = await register(http)
    await refresh_tokens.insert(pool, user_id=user.id, token_hash="old", ttl_seconds=-2 * 86400)
    await password_resets.insert(pool, user_id=user.id, token_hash="old", ttl_seconds=-2 * 86400)
    await oauth_states.insert(pool, state_hash="old", purpose="login", code_verifier="v",
                              ttl_seconds=-2 * 86400)
    for module in (refresh_tokens, password_resets, oauth_states):
        await module.prune(pool)
    assert await pool.fetchval("SELECT count(*) FROM refresh_tokens") == 1  # the live one
    assert await pool.fetchval("SELECT count(*) FROM password_resets") == 0
    assert await pool.fetchval("SELECT count(*) FROM oauth_states") == 0
