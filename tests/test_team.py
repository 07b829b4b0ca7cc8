"""/api/team: invitations (single use, expiring, resendable, revocable), members and roles,
the last owner, and what each role may do in the organisation's data."""

from __future__ import annotations

import httpx
import pytest

from api.crypto import token_hash
from tests.team_support import as_user, join, last_token, team_server
from tests.test_api_support import PASSWORD, assert_error, register


@pytest.fixture(scope="module")
async def world(pg_url):
    async with team_server(pg_url) as (server, sink):
        yield server, sink


@pytest.fixture
async def http(world, pool):
    server, _ = world
    async with httpx.AsyncClient(base_url=server.url) as http:
        yield http


@pytest.fixture
def sink(world):
    return world[1]


async def test_a_newcomer_invites_a_colleague_who_reads_the_calls_but_not_the_billing(
        http, sink, pool):
    owner = await register(http)
    client = await owner.create_client()
    invited = await owner.post("/api/team/invite",
                               json={"email": "Colleague@Example.com", "role": "member"})
    assert invited.status_code == 201, invited.text
    body = invited.json()
    assert (body["email"], body["role"], body["status"], body["email_sent"]) == (
        "colleague@example.com", "member", "pending", True)
    token = last_token(sink, "colleague@example.com")
    assert await pool.fetchval("SELECT count(*) FROM invitations WHERE token_hash = $1",
                               token) == 0  # stored hashed
    assert await pool.fetchval("SELECT count(*) FROM invitations WHERE token_hash = $1",
                               token_hash(token)) == 1

    member = as_user(http, await http.post(f"/api/team/invitations/{token}/accept",
                                           json={"password": PASSWORD, "full_name": "Sam"}),
                     "colleague@example.com")
    me = (await member.get("/api/auth/me")).json()
    assert me["organization"]["role"] == "member"
    members = (await owner.get("/api/team/members")).json()
    assert [(m["email"], m["role"], m["name"]) for m in members] == [
        (owner.email, "owner", "Dana"), ("colleague@example.com", "member", "Sam")]
    assert (await owner.get("/api/team/invitations")).json()[0]["status"] == "accepted"

    # The member sees the organisation's calls, appointments and clients...
    assert (await member.get("/api/calls")).status_code == 200
    assert (await member.get("/api/active-calls")).status_code == 200
    assert (await member.get("/api/appointments")).status_code == 200
    assert [c["id"] for c in (await member.get("/api/clients")).json()["items"]] == [
        client["id"]]
    booked = await member.post(f"/api/clients/{client['id']}/appointments", json={
        "starts_at": "2030-01-07T10:00:00+00:00", "name": "Ada", "phone": "+14155550188"})
    assert booked.status_code == 201, booked.text
    # ...but neither manages them, nor the team, nor billing.
    assert_error(await member.post("/api/clients", json={"name": "x", "phone_number":
                                                         "+14155550199"}),
                 403, "missing_permission")
    assert_error(await member.post("/api/team/invite", json={"email": "x@example.com"}),
                 403, "missing_permission")
    matrix = (await member.get("/api/team/permissions")).json()
    member_scopes = next(r["scopes"] for r in matrix["roles"] if r["role"] == "member")
    assert "read:calls" in member_scopes and "read:billing" not in member_scopes


async def test_an_invitation_reused_expired_or_revoked_is_refused(http, sink, pool):
    owner = await register(http)

    await owner.post("/api/team/invite", json={"email": "once@example.com"})
    token = last_token(sink, "once@example.com")
    first = await http.post(f"/api/team/invitations/{token}/accept",
                            json={"password": PASSWORD})
    assert first.status_code == 200
    again = await http.post(f"/api/team/invitations/{token}/accept",
                            json={"password": PASSWORD})
    assert_error(again, 410, "invitation_accepted")

    invited = (await owner.post("/api/team/invite", json={"email": "late@example.com"})).json()
    token = last_token(sink, "late@example.com")
    await pool.execute("UPDATE invitations SET expires_at = now() - interval '1 second'"
                       " WHERE id = $1", invited["id"])
    assert_error(await http.post(f"/api/team/invitations/{token}/accept",
                                 json={"password": PASSWORD}), 410, "invitation_expired")
    # Resending gives a new link and a new week; the old link stays dead.
    resent = await owner.post(f"/api/team/invitations/{invited['id']}/resend")
    assert resent.status_code == 200 and resent.json()["status"] == "pending"
    fresh = last_token(sink, "late@example.com")
    assert fresh != token
    assert_error(await http.post(f"/api/team/invitations/{token}/accept",
                                 json={"password": PASSWORD}), 404)
    assert (await http.post(f"/api/team/invitations/{fresh}/accept",
                            json={"password": PASSWORD})).status_code == 200

    invited = (await owner.post("/api/team/invite", json={"email": "nope@example.com"})).json()
    token = last_token(sink, "nope@example.com")
    revoked = await owner.delete(f"/api/team/invitations/{invited['id']}")
    assert revoked.status_code == 204
    assert_error(await http.post(f"/api/team/invitations/{token}/accept",
                                 json={"password": PASSWORD}), 410, "invitation_revoked")
    assert_error(await owner.post(f"/api/team/invitations/{invited['id']}/resend"),
                 409, "invitation_revoked")
    assert await pool.fetchval("SELECT count(*) FROM users WHERE email = 'nope@example.com'") == 0
    assert_error(await http.post("/api/team/invitations/not-a-token/accept",
                                 json={"password": PASSWORD}), 404)


async def test_a_new_account_needs_a_password(http, sink):
    owner = await register(http)
    await owner.post("/api/team/invite", json={"email": "nopass@example.com"})
    token = last_token(sink, "nopass@example.com")
    short = await http.post(f"/api/team/invitations/{token}/accept", json={"password": "short"})
    assert_error(short, 422, "validation_error")
    assert (await http.post(f"/api/team/invitations/{token}/accept",
                            json={"password": PASSWORD})).status_code == 200


async def test_the_last_owner_cannot_leave_or_be_demoted(http, sink):
    owner = await register(http)
    admin = await join(owner, sink, "admin")
    assert_error(await owner.delete(f"/api/team/members/{owner.id}"), 409, "last_owner")
    assert_error(await owner.put(f"/api/team/members/{owner.id}/role", json={"role": "admin"}),
                 409, "last_owner")
    # Admins do not manage the team.
    assert_error(await admin.put(f"/api/team/members/{admin.id}/role", json={"role": "owner"}),
                 403, "missing_permission")
    promoted = await owner.put(f"/api/team/members/{admin.id}/role", json={"role": "owner"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    # With a second owner, the first may step down, and then leave.
    demoted = await admin.put(f"/api/team/members/{owner.id}/role", json={"role": "member"})
    assert demoted.json()["role"] == "member"
    assert_error(await admin.delete(f"/api/team/members/{admin.id}"), 409, "last_owner")
    assert (await admin.delete(f"/api/team/members/{owner.id}")).status_code == 204
    assert [m["id"] for m in (await admin.get("/api/team/members")).json()] == [admin.id]
    # The one who left still signs in, as the owner of an organisation of their own.
    me = (await owner.get("/api/auth/me")).json()
    assert me["organization"]["role"] == "owner"
    assert [m["id"] for m in (await owner.get("/api/team/members")).json()] == [owner.id]


async def test_a_removed_member_loses_the_data_and_their_keys(http, sink):
    owner = await register(http)
    client = await owner.create_client()
    admin = await join(owner, sink, "admin")
    key = (await admin.create_key("read:clients", "write:clients"))["key"]
    with_key = {"X-API-Key": key}
    assert (await http.get(f"/api/clients/{client['id']}", headers=with_key)).status_code == 200
    # Demoted to member: the key keeps only what the member role holds.
    await owner.put(f"/api/team/members/{admin.id}/role", json={"role": "member"})
    assert (await http.get(f"/api/clients/{client['id']}", headers=with_key)).status_code == 200
    assert_error(await http.patch(f"/api/clients/{client['id']}", headers=with_key,
                                  json={"name": "x"}), 403, "missing_scope")
    assert (await owner.delete(f"/api/team/members/{admin.id}")).status_code == 204
    assert_error(await http.get(f"/api/clients/{client['id']}", headers=with_key), 401)
    assert_error(await admin.get(f"/api/clients/{client['id']}"), 404)
    assert (await admin.get("/api/clients")).json()["items"] == []
    assert_error(await owner.delete(f"/api/team/members/{admin.id}"), 404)


async def test_keys_grant_no_scope_beyond_the_creators_role(http, sink):
    owner = await register(http)
    admin = await join(owner, sink, "admin")
    refused = await admin.post("/api/api-keys", json={"name": "b", "scopes": ["read:billing"]})
    assert_error(refused, 403, "missing_permission")
    assert "read:billing" in refused.json()["detail"]
    assert (await admin.post("/api/api-keys", json={"name": "w", "scopes": [
        "write:webhooks"]})).status_code == 201
    # Keys belong to the organisation: its owner sees and may revoke the admin's key.
    listed = (await owner.get("/api/api-keys")).json()
    assert [k["name"] for k in listed] == ["w"]
    assert (await owner.delete(f"/api/api-keys/{listed[0]['id']}")).status_code == 204


async def test_an_existing_account_links_when_it_proves_itself(http, sink):
    owner = await register(http)
    elsewhere = await register(http)
    await owner.post("/api/team/invite", json={"email": elsewhere.email, "role": "admin"})
    token = last_token(sink, elsewhere.email)
    assert_error(await http.post(f"/api/team/invitations/{token}/accept", json={}), 401)
    assert_error(await http.post(f"/api/team/invitations/{token}/accept",
                                 json={"password": "not the password"}), 401)
    stranger = await register(http)
    assert_error(await stranger.post(f"/api/team/invitations/{token}/accept", json={}), 401)
    linked = await elsewhere.post(f"/api/team/invitations/{token}/accept", json={})
    assert linked.status_code == 200, linked.text
    assert linked.json()["user"]["organization"]["role"] == "admin"
    assert elsewhere.id in [m["id"] for m in (await owner.get("/api/team/members")).json()]
    assert_error(await owner.post("/api/team/invite", json={"email": elsewhere.email}),
                 409, "already_member")


async def test_a_user_whose_organisation_holds_clients_cannot_be_moved(http, sink, pool):
    owner = await register(http)
    busy = await register(http)
    await busy.create_client()
    await owner.post("/api/team/invite", json={"email": busy.email})
    token = last_token(sink, busy.email)
    refused = await http.post(f"/api/team/invitations/{token}/accept",
                              json={"password": PASSWORD})
    assert_error(refused, 409, "organization_not_empty")
    assert (await busy.get("/api/auth/me")).json()["organization"]["role"] == "owner"
    assert await pool.fetchval("SELECT accepted_at FROM invitations WHERE lower(email) = $1",
                               busy.email) is None


async def test_another_organisations_team_is_not_found(http, sink):
    a, b = await register(http), await register(http)
    a_member = await join(a, sink, "member")
    invited = (await a.post("/api/team/invite", json={"email": "pending@example.com"})).json()
    assert_error(await b.delete(f"/api/team/members/{a_member.id}"), 404)
    assert_error(await b.put(f"/api/team/members/{a_member.id}/role", json={"role": "admin"}),
                 404)
    assert_error(await b.delete(f"/api/team/invitations/{invited['id']}"), 404)
    assert_error(await b.post(f"/api/team/invitations/{invited['id']}/resend"), 404)
    assert [m["id"] for m in (await b.get("/api/team/members")).json()] == [b.id]
    assert (await b.get("/api/team/invitations")).json() == []
