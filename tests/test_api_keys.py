"""/api/api-keys: shown once, stored hashed, masked list, last_used_at, revoke, rotate,
scopes on every route, Bearer or X-API-Key."""

from __future__ import annotations

import httpx
import pytest

from api.crypto import token_hash
from tests.test_api_support import assert_error, fields, key_headers, register


@pytest.fixture
async def http(server, pool):
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def test_key_is_shown_once_and_stored_hashed(http, pool):
    owner = await register(http)
    created = await owner.create_key("read:clients", "write:clients", name="CRM")
    key = created["key"]
    assert key.startswith(created["prefix"] + "_") and created["prefix"].startswith("fd_")
    row = await pool.fetchrow("SELECT prefix, key_hash, scopes FROM api_keys")
    assert row["key_hash"] == token_hash(key) and key not in row["key_hash"]
    assert row["scopes"] == ["read:clients", "write:clients"]

    listed = (await owner.get("/api/api-keys")).json()
    assert len(listed) == 1 and "key" not in listed[0]
    assert listed[0]["masked"] == f"{created['prefix']}_…" and listed[0]["last_used_at"] is None

    by_header = await http.get("/api/clients", headers=key_headers(key))
    by_bearer = await http.get("/api/clients", headers={"Authorization": f"Bearer {key}"})
    assert by_header.status_code == by_bearer.status_code == 200
    assert (await owner.get("/api/api-keys")).json()[0]["last_used_at"] is not None
    me = await http.get("/api/auth/me", headers=key_headers(key))
    assert me.json()["id"] == owner.id


async def test_scopes_are_enforced(http):
    owner = await register(http)
    client = await owner.create_client()
    reader = (await owner.create_key("read:clients"))["key"]
    assert (await http.get(f"/api/clients/{client['id']}",
                           headers=key_headers(reader))).status_code == 200
    denied = await http.patch(f"/api/clients/{client['id']}", json={"name": "x"},
                              headers=key_headers(reader))
    body = assert_error(denied, 403, "missing_scope")
    assert "write:clients" in body["detail"]
    assert_error(await http.get("/api/api-keys", headers=key_headers(reader)), 403)


async def test_a_key_can_only_grant_what_it_holds(http):
    owner = await register(http)
    manager = (await owner.create_key("manage:api_keys", "read:clients"))["key"]
    ok = await http.post("/api/api-keys", json={"name": "sub", "scopes": ["read:clients"]},
                         headers=key_headers(manager))
    assert ok.status_code == 201
    wider = await http.post("/api/api-keys", json={"name": "sub", "scopes": ["write:clients"]},
                            headers=key_headers(manager))
    assert_error(wider, 403, "missing_scope")


async def test_revoke_and_rotate(http, pool):
    owner = await register(http)
    first = await owner.create_key("read:clients")
    rotated = await owner.post(f"/api/api-keys/{first['id']}/rotate")
    assert rotated.status_code == 201
    new = rotated.json()
    assert new["key"] != first["key"] and new["scopes"] == ["read:clients"]
    assert new["name"] == first["name"]
    assert_error(await http.get("/api/clients", headers=key_headers(first["key"])), 401)
    assert (await http.get("/api/clients", headers=key_headers(new["key"]))).status_code == 200
    assert_error(await owner.post(f"/api/api-keys/{first['id']}/rotate"), 409, "key_revoked")

    assert (await owner.delete(f"/api/api-keys/{new['id']}")).status_code == 204
    assert_error(await http.get("/api/clients", headers=key_headers(new["key"])), 401)
    assert (await owner.get("/api/api-keys")).json() == []
    everything = (await owner.get("/api/api-keys", params={"include_revoked": True})).json()
    assert {k["id"] for k in everything} == {first["id"], new["id"]}
    assert await pool.fetchval("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == 0


async def test_bad_keys_and_bodies(http):
    owner = await register(http)
    created = await owner.create_key("read:clients")
    tampered = created["key"][:-2] + ("AA" if not created["key"].endswith("AA") else "BB")
    for key in (tampered, "fd_nothing", "fd_00000000_" + "x" * 43, "sk-123"):
        assert_error(await http.get("/api/clients", headers=key_headers(key)), 401)
    assert fields(await owner.post("/api/api-keys", json={"name": "x", "scopes": []})) == \
        {"scopes"}
    assert fields(await owner.post("/api/api-keys",
                                   json={"name": "x", "scopes": ["root"]})) == {"scopes"}
    assert fields(await owner.post("/api/api-keys", json={"scopes": ["read:clients"]})) == \
        {"name"}
    assert_error(await owner.delete("/api/api-keys/999999"), 404)


async def test_a_key_manages_only_keys_within_its_own_scopes(http):
    owner = await register(http)
    narrow = await owner.create_key("manage:api_keys", name="narrow")
    broad = await owner.create_key("manage:api_keys", "read:conversations", "write:clients",
                                   name="broad")
    peer = await owner.create_key("manage:api_keys", name="peer")
    as_narrow = key_headers(narrow["key"])

    revoke = await http.delete(f"/api/api-keys/{broad['id']}", headers=as_narrow)
    assert_error(revoke, 403, "missing_scope")
    rotate = await http.post(f"/api/api-keys/{broad['id']}/rotate", headers=as_narrow)
    assert_error(rotate, 403, "missing_scope")
    assert (await http.get("/api/api-keys", headers=key_headers(broad["key"]))).status_code \
        == 200   # still alive

    # Within its scopes it may: rotate an equal key, revoke it, revoke itself.
    rotated = await http.post(f"/api/api-keys/{peer['id']}/rotate", headers=as_narrow)
    assert rotated.status_code == 201
    assert (await http.delete(f"/api/api-keys/{rotated.json()['id']}",
                              headers=as_narrow)).status_code == 204
    assert (await http.delete(f"/api/api-keys/{narrow['id']}",
                              headers=as_narrow)).status_code == 204
    # A signed-in owner holds every scope.
    assert (await owner.http.delete(f"/api/api-keys/{broad['id']}",
                                    headers=owner.auth)).status_code == 204
