"""/api/settings: preferences, the business profile, the password, keys at the seed's path."""

from __future__ import annotations

import httpx
import pytest

from tests.test_api_support import PASSWORD, api_server, assert_error, fields, register

NEW_PASSWORD = "a much longer new secret"


@pytest.fixture
async def server(pool, pg_url):
    async with api_server(pg_url) as srv:
        yield srv


@pytest.fixture
async def http(server):
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def test_preferences_are_kept_per_user_and_replaced_whole(http, pool):
    dana, other = await register(http), await register(http)
    first = await dana.get("/api/settings")
    assert first.status_code == 200, first.text
    assert first.json()["preferences"] == {}
    assert first.json()["profile"] | {"company_name": None} == {
        "email": dana.email, "full_name": "Dana", "company_name": None, "phone_number": None,
        "timezone": None, "role": "owner"}

    put = await dana.put("/api/settings", json={"preferences": {"theme": "dark", "page": 50}})
    assert put.status_code == 200 and put.json()["preferences"] == {"theme": "dark", "page": 50}
    await dana.put("/api/settings", json={"preferences": {"theme": "light"}})
    stored = await pool.fetchval("SELECT preferences::text FROM users WHERE id = $1", dana.id)
    assert stored == '{"theme": "light"}'
    assert (await other.get("/api/settings")).json()["preferences"] == {}


async def test_bad_preferences_are_refused_naming_the_field(http):
    dana = await register(http)
    assert fields(await dana.put("/api/settings", json={"preferences": ["dark"]})) \
        == {"preferences"}
    huge = {"notes": "x" * 20_000}
    assert fields(await dana.put("/api/settings", json={"preferences": huge})) \
        == {"preferences"}
    assert fields(await dana.put("/api/settings", json={"preferences": {}, "role": "owner"})) \
        == {"role"}
    bad = await dana.http.put("/api/settings", content=b"{not json", headers={
        **dana.auth, "Content-Type": "application/json"})
    assert bad.status_code == 422


async def test_an_owner_changes_the_business_profile(http, pool):
    dana = await register(http)
    response = await dana.put("/api/settings/profile", json={
        "company_name": "Bright Smile Dental", "phone_number": "+12125550123",
        "timezone": "America/Chicago", "full_name": "Dana Owner"})
    assert response.status_code == 200, response.text
    profile = response.json()["profile"]
    assert (profile["company_name"], profile["phone_number"], profile["timezone"],
            profile["full_name"]) == ("Bright Smile Dental", "+12125550123", "America/Chicago",
                                      "Dana Owner")
    row = await pool.fetchrow("SELECT o.name, o.phone_number, o.timezone FROM organizations o"
                              " JOIN memberships m ON m.organization_id = o.id"
                              " WHERE m.user_id = $1", dana.id)
    assert tuple(row) == ("Bright Smile Dental", "+12125550123", "America/Chicago")
    me = (await dana.get("/api/auth/me")).json()
    assert me["organization"]["name"] == "Bright Smile Dental"

    bad = await dana.put("/api/settings/profile", json={"timezone": "Mars/Olympus",
                                                        "phone_number": "12"})
    assert fields(bad) == {"timezone", "phone_number"}


async def test_a_member_changes_their_name_but_not_the_business(http, pool):
    dana = await register(http)
    await pool.execute("UPDATE memberships SET role = 'member' WHERE user_id = $1", dana.id)
    refused = await dana.put("/api/settings/profile", json={"company_name": "Mine now"})
    assert_error(refused, 403, "forbidden_role")
    own = await dana.put("/api/settings/profile", json={"full_name": "Dana M."})
    assert own.status_code == 200 and own.json()["profile"]["full_name"] == "Dana M."
    assert own.json()["profile"]["role"] == "member"


async def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(http):
    dana = await register(http)
    login = await http.post("/api/auth/login", json={"email": dana.email, "password": PASSWORD})
    elsewhere = login.json()

    wrong = await dana.put("/api/settings/password", json={
        "current_password": "not it at all", "new_password": NEW_PASSWORD})
    assert_error(wrong, 400, "wrong_password")
    short = await dana.put("/api/settings/password", json={
        "current_password": PASSWORD, "new_password": "short"})
    assert fields(short) == {"new_password"}

    changed = await dana.put("/api/settings/password", json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text
    tokens = changed.json()
    # The other session: its access token and its refresh token no longer work.
    old_access = await http.get("/api/auth/me", headers={
        "Authorization": f"Bearer {elsewhere['access_token']}"})
    assert old_access.status_code == 401
    refresh = await http.post("/api/auth/refresh",
                              json={"refresh_token": elsewhere["refresh_token"]})
    assert refresh.status_code == 401
    # This one continues with the new tokens; the new password signs in, the old does not.
    me = await http.get("/api/auth/me",
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert (await http.post("/api/auth/login", json={
        "email": dana.email, "password": NEW_PASSWORD})).status_code == 200
    assert (await http.post("/api/auth/login", json={
        "email": dana.email, "password": PASSWORD})).status_code == 401


async def test_api_keys_answer_at_the_settings_path_too(http):
    dana = await register(http)
    created = await dana.post("/api/settings/api-keys", json={
        "name": "zapier", "scopes": ["read:clients"]})
    assert created.status_code == 201, created.text
    listed = await dana.get("/api/api-keys")
    assert [k["id"] for k in listed.json()] == [created.json()["id"]]
    # A key cannot read or change the account's settings.
    key = created.json()["key"]
    assert_error(await http.get("/api/settings", headers={"X-API-Key": key}), 403)
