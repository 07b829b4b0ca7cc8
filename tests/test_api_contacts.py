"""/api/clients/{id}/contacts: list, create, get, update, delete."""

from __future__ import annotations

from tests.test_api_support import assert_error, fields


async def test_contact_lifecycle(owner, pool):
    client = await owner.create_client()
    base = f"/api/clients/{client['id']}/contacts"
    created = await owner.post(base, json={"phone_number": "+1 415 555 0101", "name": "Alex",
                                           "email": "alex@example.com", "notes": "mornings"})
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["phone_number"] == "+14155550101" and contact["client_id"] == client["id"]
    row = await pool.fetchrow("SELECT name, email, notes FROM contacts WHERE id = $1",
                              contact["id"])
    assert dict(row) == {"name": "Alex", "email": "alex@example.com", "notes": "mornings"}

    await owner.post(base, json={"phone_number": "+14155550102", "name": "Blake"})
    listed = (await owner.get(base, params={"search": "ale"})).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "Alex"
    assert (await owner.get(base)).json()["total"] == 2

    changed = await owner.patch(f"{base}/{contact['id']}", json={"name": "Alex Q", "email": None})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["email"]) == ("Alex Q", None)
    assert (await owner.get(f"{base}/{contact['id']}")).json()["name"] == "Alex Q"

    assert (await owner.delete(f"{base}/{contact['id']}")).status_code == 204
    assert await pool.fetchval("SELECT count(*) FROM contacts WHERE id = $1", contact["id"]) == 0
    assert_error(await owner.get(f"{base}/{contact['id']}"), 404)
    assert_error(await owner.delete(f"{base}/{contact['id']}"), 404)


async def test_contact_validation_and_duplicates(owner):
    client = await owner.create_client()
    base = f"/api/clients/{client['id']}/contacts"
    assert fields(await owner.post(base, json={"name": "No phone"})) == {"phone_number"}
    assert fields(await owner.post(base, json={"phone_number": "12345"})) == {"phone_number"}
    assert fields(await owner.post(base, json={"phone_number": "+14155550103",
                                               "email": "nope"})) == {"email"}
    assert fields(await owner.post(base, json={"phone_number": "+14155550103",
                                               "notes": "x" * 5001})) == {"notes"}
    first = await owner.post(base, json={"phone_number": "+14155550103"})
    assert first.status_code == 201
    assert_error(await owner.post(base, json={"phone_number": "+14155550103"}), 409,
                 "contact_exists")
    other = await owner.post(base, json={"phone_number": "+14155550104"})
    clash = await owner.patch(f"{base}/{other.json()['id']}",
                              json={"phone_number": "+14155550103"})
    assert_error(clash, 409, "contact_exists")
    assert fields(await owner.patch(f"{base}/{other.json()['id']}",
                                    json={"phone_number": None})) == {"phone_number"}
    assert fields(await owner.get(base, params={"offset": -1})) == {"offset"}
