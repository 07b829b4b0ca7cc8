"""The FrontDesk API's and the Vami spec's documented paths, beside our own: same handlers."""

from __future__ import annotations

import httpx

from tests.test_api_conversations import make_call
from tests.test_api_support import assert_error, fields, register


async def test_put_changes_a_client_as_patch_does(owner):
    client = await owner.create_client()
    response = await owner.put(f"/api/clients/{client['id']}", json={"name": "Renamed"})
    assert response.status_code == 200 and response.json()["name"] == "Renamed"
    assert (await owner.get(f"/api/clients/{client['id']}")).json()["name"] == "Renamed"
    assert fields(await owner.put(f"/api/clients/{client['id']}", json={"bogus": 1})) \
        == {"bogus"}


async def test_contacts_by_id_without_the_client_in_the_path(owner, server, pool):
    client = await owner.create_client()
    created = await owner.post("/api/contacts", json={"client_id": client["id"],
                                                      "phone_number": "+14155550177",
                                                      "name": "Alex"})
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["client_id"] == client["id"]
    assert fields(await owner.post("/api/contacts", json={"phone_number": "+14155550178"})) \
        == {"client_id"}
    changed = await owner.put(f"/api/contacts/{contact['id']}", json={"name": "Alex Caller"})
    assert changed.status_code == 200 and changed.json()["name"] == "Alex Caller"

    async with httpx.AsyncClient(base_url=server.url) as http:
        other = await register(http)
        # Another owner's client and contact do not exist for them.
        assert_error(await other.post("/api/contacts", json={
            "client_id": client["id"], "phone_number": "+14155550179"}), 404)
        assert_error(await other.put(f"/api/contacts/{contact['id']}", json={"name": "x"}), 404)
        assert_error(await other.delete(f"/api/contacts/{contact['id']}"), 404)

    assert (await owner.delete(f"/api/contacts/{contact['id']}")).status_code == 204
    assert_error(await owner.delete(f"/api/contacts/{contact['id']}"), 404)
    assert await pool.fetchval("SELECT count(*) FROM contacts WHERE client_id = $1",
                               client["id"]) == 0


async def test_conversations_by_id_without_the_client_in_the_path(owner, server, pool):
    client = await owner.create_client()
    done = await make_call(pool, client["id"], "CA900", turns=(("user", "Hello"),))
    live = await make_call(pool, client["id"], "CA901", end_reason=None)
    shown = await owner.get(f"/api/conversations/{done}")
    assert shown.status_code == 200 and shown.json()["transcript"][0]["content"] == "Hello"
    assert_error(await owner.delete(f"/api/conversations/{live}"), 409, "call_in_progress")

    async with httpx.AsyncClient(base_url=server.url) as http:
        other = await register(http)
        assert_error(await other.get(f"/api/conversations/{done}"), 404)
        assert_error(await other.delete(f"/api/conversations/{done}"), 404)

    assert (await owner.delete(f"/api/conversations/{done}")).status_code == 204
    assert_error(await owner.get(f"/api/conversations/{done}"), 404)


async def test_forgot_and_reset_password_answer_at_the_vami_paths(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        dana = await register(http)
        asked = await http.post("/api/auth/forgot-password", json={"email": dana.email})
        assert asked.status_code == 202
        bad = await http.post("/api/auth/reset-password", json={
            "token": "not-a-token", "new_password": "a new long password"})
        assert_error(bad, 400, "invalid_token")
