"""Tenant isolation: another organisation's id answers 404 for every resource type, never
403, never its data, and changes nothing; whoever asks, its owner, an admin or a member of the
other organisation. Within an organisation, every member sees the same data."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from db import active_calls, conversations
from db.pool import create_pool
from tests.live import LiveServer
from tests.team_support import join
from tests.test_api_calendar import service_account
from tests.test_api_support import User, api_server, assert_error, register, smtp_sink

# (method, path, body): {c} client, {k} contact, {v} conversation, {a} API key, {w} webhook
# endpoint, {i} invitation, {m} member of organisation A.
FOREIGN = [
    ("GET", "/api/clients/{c}", None),
    ("PATCH", "/api/clients/{c}", {"name": "mine now"}),
    ("DELETE", "/api/clients/{c}", None),
    ("GET", "/api/clients/{c}/settings", None),
    ("GET", "/api/clients/{c}/settings/max_call_duration", None),
    ("PUT", "/api/clients/{c}/settings/max_call_duration", {"value": 60}),
    ("DELETE", "/api/clients/{c}/settings/secret_notes", None),
    ("GET", "/api/clients/{c}/contacts", None),
    ("POST", "/api/clients/{c}/contacts", {"phone_number": "+14155550177"}),
    ("GET", "/api/clients/{c}/contacts/{k}", None),
    ("PATCH", "/api/clients/{c}/contacts/{k}", {"name": "x"}),
    ("DELETE", "/api/clients/{c}/contacts/{k}", None),
    ("GET", "/api/clients/{c}/conversations", None),
    ("GET", "/api/clients/{c}/conversations/export", None),
    ("GET", "/api/clients/{c}/conversations/{v}", None),
    ("DELETE", "/api/clients/{c}/conversations/{v}", None),
    ("GET", "/api/clients/{c}/calendar", None),
    ("DELETE", "/api/clients/{c}/calendar", None),
    ("POST", "/api/clients/{c}/calendar/oauth/initiate", None),
    ("PUT", "/api/clients/{c}/calendar/service-account", "service_account"),
    ("DELETE", "/api/api-keys/{a}", None),
    ("POST", "/api/api-keys/{a}/rotate", None),
    ("GET", "/api/clients/{c}/appointments", None),
    ("POST", "/api/clients/{c}/appointments", "appointment"),
    ("GET", "/api/clients/{c}/appointments/{p}", None),
    ("PATCH", "/api/clients/{c}/appointments/{p}", {"name": "x"}),
    ("POST", "/api/clients/{c}/appointments/{p}/cancel", {}),
    ("GET", "/api/clients/{c}/availability?date=2030-01-07", None),
    ("GET", "/api/calendar/appointments/{p}", None),
    ("PATCH", "/api/calendar/appointments/{p}", {"name": "x"}),
    ("DELETE", "/api/calendar/appointments/{p}", None),
    ("POST", "/api/calendar/appointments", "appointment_for_c"),
    ("GET", "/api/calendar/availability?client_id={c}&date=2030-01-07", None),
    ("GET", "/api/clients/{c}/calendar/status", None),
    ("POST", "/api/clients/{c}/calendar/service-account", "service_account_json"),
    ("DELETE", "/api/clients/{c}/calendar/credentials", None),
    ("POST", "/api/clients/{c}/calendar/microsoft/oauth/initiate", None),
    ("GET", "/api/v1/integrations/calendar/google/events?client_id={c}", None),
    ("GET", "/api/webhooks/{w}", None),
    ("DELETE", "/api/webhooks/{w}", None),
    ("POST", "/api/webhooks/{w}/enable", None),
    ("POST", "/api/webhooks/{w}/test", None),
    ("GET", "/api/webhooks/{w}/deliveries", None),
    ("GET", "/api/calls/{v}", None),
    ("POST", "/api/calls/{v}/notes", {"text": "mine"}),
    ("DELETE", "/api/team/members/{m}", None),
    ("PUT", "/api/team/members/{m}/role", {"role": "admin"}),
    ("POST", "/api/team/invitations/{i}/resend", None),
    ("DELETE", "/api/team/invitations/{i}", None),
    # B's own client, A's child ids: still not found.
    ("GET", "/api/clients/{own}/contacts/{k}", None),
    ("PATCH", "/api/clients/{own}/contacts/{k}", {"name": "x"}),
    ("DELETE", "/api/clients/{own}/contacts/{k}", None),
    ("GET", "/api/clients/{own}/conversations/{v}", None),
    ("DELETE", "/api/clients/{own}/conversations/{v}", None),
    ("GET", "/api/clients/{own}/appointments/{p}", None),
    ("PATCH", "/api/clients/{own}/appointments/{p}", {"name": "x"}),
    ("POST", "/api/clients/{own}/appointments/{p}/cancel", {}),
]
# A future Monday, 10:00 UTC (the test clients' zone): a slot on the default grid.
MONDAY = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
BODIES = {
    "service_account": lambda ids: service_account(),
    "service_account_json": lambda ids: {"service_account_json": json.dumps(service_account())},
    "appointment": lambda ids: {"starts_at": MONDAY.isoformat(), "name": "Mine",
                                "phone": "+14155550188"},
    "appointment_for_c": lambda ids: {"client_id": ids["c"], "starts_at": MONDAY.isoformat(),
                                      "name": "Mine", "phone": "+14155550188"},
}


@pytest.fixture(scope="module")
async def world(pg_url):
    """Two tenants and A's resources, built once for the module: every request below is
    refused, which the snapshot comparison checks, so the data stays as built."""
    pool = await create_pool(pg_url, min_size=1, max_size=3)
    tables = [r["tablename"] for r in await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'schema_migrations'")]
    await pool.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    async with smtp_sink() as sink, api_server(
            pg_url, google_client_id="cid", google_client_secret="cs", smtp_url=sink.url,
            webhook_allow_private_targets=True) as srv, \
            httpx.AsyncClient(base_url=srv.url) as http:
        a, b = await register(http), await register(http)
        a_member = await join(a, sink, "member")
        client = await a.create_client()
        contact = (await a.post(f"/api/clients/{client['id']}/contacts",
                                json={"phone_number": "+14155550166", "name": "Secret"})).json()
        await a.put(f"/api/clients/{client['id']}/settings/secret_notes", json={"value": "s3"})
        appointment = (await a.post(f"/api/clients/{client['id']}/appointments", json={
            "starts_at": (MONDAY + timedelta(hours=1)).isoformat(), "name": "Secret",
            "phone": "+14155550166"})).json()
        await a.put(f"/api/clients/{client['id']}/calendar/service-account",
                    json=service_account())
        conv = await conversations.create_pending(pool, call_sid="CA-a", client_id=client["id"],
                                                  caller_phone="+14155550166", token_nonce="n")
        await conversations.activate(pool, call_sid="CA-a", client_id=client["id"],
                                     token_nonce="n", stream_sid="MZ")
        await conversations.finish(pool, conv, end_reason="caller_hangup")
        key = await a.create_key("read:clients")
        hook = (await a.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hooks",
                                                    "events": ["call.ended"]})).json()
        invitation = (await a.post("/api/team/invite",
                                   json={"email": "pending@example.com"})).json()
        own = await b.create_client()
        ids = {"c": client["id"], "k": contact["id"], "v": conv, "a": key["id"],
               "own": own["id"], "p": appointment["id"], "w": hook["id"],
               "i": invitation["id"], "m": a_member.id}
        others = {"owner": b, "admin": await join(b, sink, "admin"),
                  "member": await join(b, sink, "member")}
        yield World(srv, pool, a, b, ids, a_member, others)
    await pool.close()


@dataclass
class World:
    server: LiveServer
    pool: asyncpg.Pool
    a: User
    b: User
    ids: dict[str, int]
    a_member: User  # a member of A's organisation
    others: dict[str, User]  # B's organisation, one user per role


async def _snapshot(pool) -> list:
    return [
        await pool.fetch("SELECT * FROM clients ORDER BY id"),
        await pool.fetch("SELECT * FROM contacts ORDER BY id"),
        await pool.fetch("SELECT id, status FROM conversations ORDER BY id"),
        await pool.fetch("SELECT client_id, ciphertext FROM calendar_credentials"),
        await pool.fetch("SELECT id, revoked_at FROM api_keys ORDER BY id"),
        await pool.fetch("SELECT * FROM appointments ORDER BY id"),
        await pool.fetchval("SELECT count(*) FROM appointment_changes"),
        await pool.fetchval("SELECT count(*) FROM oauth_states"),
        await pool.fetch("SELECT * FROM webhook_endpoints ORDER BY id"),
        await pool.fetch("SELECT id, token_hash, revoked_at FROM invitations ORDER BY id"),
        await pool.fetch("SELECT * FROM memberships ORDER BY user_id"),
        await pool.fetchval("SELECT count(*) FROM call_notes"),
    ]


@pytest.mark.parametrize(("method", "path", "body"), FOREIGN,
                         ids=[f"{m} {p}" for m, p, _ in FOREIGN])
async def test_another_tenants_id_is_404(world, method, path, body):
    pool, b, ids = world.pool, world.b, world.ids
    before = await _snapshot(pool)
    json_body = BODIES[body](ids) if isinstance(body, str) else body
    # B's owner holds every scope: the answer is still 404, never 403.
    response = await b.http.request(method, path.format(**ids), json=json_body, headers=b.auth)
    assert_error(response, 404, "not_found")
    assert "Secret" not in response.text and "s3" not in response.text
    assert await _snapshot(pool) == before


@pytest.mark.parametrize("role", ["admin", "member"])
async def test_another_organisations_id_is_404_for_its_admins_and_members(world, role):
    """Whatever B's admin or member may do, A's resources are not found; where the role
    lacks the permission the route says so (403) before it looks anything up."""
    pool, ids, user = world.pool, world.ids, world.others[role]
    before = await _snapshot(pool)
    for method, path, body in FOREIGN:
        json_body = BODIES[body](ids) if isinstance(body, str) else body
        response = await user.http.request(method, path.format(**ids), json=json_body,
                                           headers=user.auth)
        if response.status_code == 403:  # the route, not the resource: nothing is revealed
            assert_error(response, 403, "missing_permission")
        else:
            assert_error(response, 404, "not_found")
        assert "Secret" not in response.text and "s3" not in response.text
    assert await _snapshot(pool) == before


async def test_a_member_sees_the_organisations_data(world):
    member, ids = world.a_member, world.ids
    listed = (await member.get("/api/clients")).json()
    assert [c["id"] for c in listed["items"]] == [ids["c"]]
    assert (await member.get(f"/api/clients/{ids['c']}/contacts/{ids['k']}")).json()[
        "name"] == "Secret"
    assert (await member.get(f"/api/calls/{ids['v']}")).status_code == 200
    assert (await member.get(f"/api/clients/{ids['c']}/appointments/{ids['p']}")
            ).status_code == 200
    assert [c["id"] for c in (await member.get("/api/calls")).json()["items"]] == [ids["v"]]


async def test_lists_only_show_your_own(world):
    pool, a, b, ids = world.pool, world.a, world.b, world.ids
    listed = (await b.get("/api/clients")).json()
    assert [c["id"] for c in listed["items"]] == [ids["own"]]
    assert [k["id"] for k in (await b.get("/api/api-keys")).json()] == []
    await active_calls.insert(pool, call_sid="CA-live", conversation_id=ids["v"],
                              client_id=ids["c"], owner_id=a.id, caller_phone="+14155550166",
                              process_id=uuid.uuid4())
    assert (await b.get("/api/active-calls")).json() == []
    assert (await world.others["member"].get("/api/active-calls")).json() == []
    assert [c["call_id"] for c in (await a.get("/api/active-calls")).json()] == ["CA-live"]
    assert [c["call_id"] for c in (await world.a_member.get("/api/active-calls")).json()] \
        == ["CA-live"]
    await active_calls.delete(pool, "CA-live")


async def test_an_api_key_sees_only_its_owners_data(world):
    b, ids = world.b, world.ids
    key = (await b.create_key("read:clients", "read:contacts"))["key"]
    async with httpx.AsyncClient(base_url=world.server.url, headers={"X-API-Key": key}) as http:
        assert_error(await http.get(f"/api/clients/{ids['c']}"), 404)
        assert_error(await http.get(f"/api/clients/{ids['c']}/contacts"), 404)
        assert (await http.get(f"/api/clients/{ids['own']}")).status_code == 200
