"""Every protected route: 401 without or with bad credentials, 403 for a key without its
scope. The table is checked against the OpenAPI document, so a new route must join it."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest

from api.scopes import ALL
from tests.live import LiveServer
from tests.test_api_support import User, api_server, assert_error, register

# (method, path, required scope or a marker for session-only routes)
ROUTES = [
    ("GET", "/api/auth/me", None),
    ("PATCH", "/api/auth/me", "session"),
    ("GET", "/api/clients", "read:clients"),
    ("POST", "/api/clients", "write:clients"),
    ("GET", "/api/clients/{c}", "read:clients"),
    ("PATCH", "/api/clients/{c}", "write:clients"),
    ("PUT", "/api/clients/{c}", "write:clients"),
    ("POST", "/api/contacts", "write:contacts"),
    ("PUT", "/api/contacts/{k}", "write:contacts"),
    ("DELETE", "/api/contacts/{k}", "write:contacts"),
    ("GET", "/api/conversations/{v}", "read:conversations"),
    ("DELETE", "/api/conversations/{v}", "write:conversations"),
    ("DELETE", "/api/clients/{c}", "write:clients"),
    ("GET", "/api/clients/{c}/settings", "read:clients"),
    ("GET", "/api/clients/{c}/settings/{key}", "read:clients"),
    ("PUT", "/api/clients/{c}/settings/{key}", "write:clients"),
    ("DELETE", "/api/clients/{c}/settings/{key}", "write:clients"),
    ("GET", "/api/clients/{c}/contacts", "read:contacts"),
    ("POST", "/api/clients/{c}/contacts", "write:contacts"),
    ("GET", "/api/clients/{c}/contacts/{k}", "read:contacts"),
    ("PATCH", "/api/clients/{c}/contacts/{k}", "write:contacts"),
    ("DELETE", "/api/clients/{c}/contacts/{k}", "write:contacts"),
    ("GET", "/api/clients/{c}/conversations", "read:conversations"),
    ("GET", "/api/clients/{c}/conversations/export", "read:conversations"),
    ("GET", "/api/clients/{c}/conversations/{v}", "read:conversations"),
    ("DELETE", "/api/clients/{c}/conversations/{v}", "write:conversations"),
    ("GET", "/api/clients/{c}/calendar", "read:calendar"),
    ("DELETE", "/api/clients/{c}/calendar", "write:calendar"),
    ("POST", "/api/clients/{c}/calendar/oauth/initiate", "write:calendar"),
    ("PUT", "/api/clients/{c}/calendar/service-account", "write:calendar"),
    ("GET", "/api/api-keys", "manage:api_keys"),
    ("POST", "/api/api-keys", "manage:api_keys"),
    ("DELETE", "/api/api-keys/{a}", "manage:api_keys"),
    ("POST", "/api/api-keys/{a}/rotate", "manage:api_keys"),
    ("GET", "/api/active-calls", "read:calls"),
    ("GET", "/api/calls", "read:conversations"),
    ("POST", "/api/calls", "write:calls"),
    ("GET", "/api/calls/{l}", "read:conversations"),
    ("POST", "/api/calls/{l}/end", "write:calls"),
    ("POST", "/api/calls/{l}/transfer", "write:calls"),
    ("POST", "/api/calls/{l}/feedback", "write:calls"),
    ("POST", "/api/calls/{l}/transcript", "write:calls"),
    ("GET", "/api/calls/{l}/recording", "read:conversations"),
    ("GET", "/api/clients/{c}/appointments", "read:appointments"),
    ("POST", "/api/clients/{c}/appointments", "write:appointments"),
    ("GET", "/api/clients/{c}/appointments/{p}", "read:appointments"),
    ("PATCH", "/api/clients/{c}/appointments/{p}", "write:appointments"),
    ("POST", "/api/clients/{c}/appointments/{p}/cancel", "write:appointments"),
    ("GET", "/api/clients/{c}/availability", "read:appointments"),
    ("GET", "/api/appointments", "read:appointments"),
    ("GET", "/api/calendar/appointments", "read:appointments"),
    ("POST", "/api/calendar/appointments", "write:appointments"),
    ("GET", "/api/calendar/appointments/{p}", "read:appointments"),
    ("PATCH", "/api/calendar/appointments/{p}", "write:appointments"),
    ("DELETE", "/api/calendar/appointments/{p}", "write:appointments"),
    ("GET", "/api/calendar/availability", "read:appointments"),
    ("GET", "/api/clients/{c}/calendar/status", "read:calendar"),
    ("POST", "/api/clients/{c}/calendar/service-account", "write:calendar"),
    ("DELETE", "/api/clients/{c}/calendar/credentials", "write:calendar"),
    ("POST", "/api/clients/{c}/calendar/microsoft/oauth/initiate", "write:calendar"),
    ("GET", "/api/v1/integrations/calendar/{provider}/events", "read:calendar"),
    ("POST", "/api/admin/clients/{c}/top-ups", "session"),
    ("GET", "/api/settings", "session"),
    ("PUT", "/api/settings", "session"),
    ("PUT", "/api/settings/profile", "session"),
    ("PUT", "/api/settings/password", "session"),
    ("GET", "/api/webhooks", "read:webhooks"),
    ("POST", "/api/webhooks", "write:webhooks"),
    ("GET", "/api/webhooks/{w}", "read:webhooks"),
    ("DELETE", "/api/webhooks/{w}", "write:webhooks"),
    ("POST", "/api/webhooks/{w}/enable", "write:webhooks"),
    ("POST", "/api/webhooks/{w}/test", "write:webhooks"),
    ("GET", "/api/webhooks/{w}/deliveries", "read:webhooks"),
    ("POST", "/api/webhooks/{w}/deliveries/{d}/redeliver", "write:webhooks"),
    ("GET", "/api/twilio/credentials", "read:twilio"),
    ("PUT", "/api/twilio/credentials", "write:twilio"),
    ("DELETE", "/api/twilio/credentials", "write:twilio"),
    ("GET", "/api/twilio/numbers", "read:twilio"),
    ("POST", "/api/twilio/numbers/{n}/assign", "write:twilio"),
    ("POST", "/api/integrations/email/test", "write:integrations"),
    ("GET", "/api/analytics/stats", "read:analytics"),
    ("GET", "/api/analytics/metrics/daily", "read:analytics"),
    ("GET", "/api/analytics/sentiment-analysis", "read:analytics"),
    ("GET", "/api/analytics/export", "read:analytics"),
    ("GET", "/api/clients/{c}/tool-executions", "read:tool_audit"),
    ("GET", "/api/clients/{c}/tool-executions/stats", "read:tool_audit"),
    ("GET", "/api/clients/{c}/tool-executions/{x}", "read:tool_audit"),
    ("GET", "/api/clients/{c}/conversations/{v}/tool-executions", "read:tool_audit"),
    ("GET", "/api/tool-executions/summary", "read:tool_audit"),
    ("GET", "/api/billing/plans", "read:billing"),
    ("GET", "/api/billing/usage", "read:billing"),
    ("GET", "/api/billing/subscription", "read:billing"),
    ("GET", "/api/billing/invoices", "read:billing"),
    ("POST", "/api/billing/subscription/checkout", "write:billing"),
    ("POST", "/api/billing/subscription/upgrade", "write:billing"),
    ("POST", "/api/billing/subscription/cancel", "write:billing"),
    ("POST", "/api/billing/top-ups/checkout", "write:billing"),
    ("POST", "/api/billing/payment-method", "write:billing"),
    ("GET", "/api/team/members", "read:team"),
    ("DELETE", "/api/team/members/{u}", "manage:team"),
    ("PUT", "/api/team/members/{u}/role", "manage:team"),
    ("POST", "/api/team/invite", "manage:team"),
    ("GET", "/api/team/invitations", "read:team"),
    ("POST", "/api/team/invitations/{i}/resend", "manage:team"),
    ("DELETE", "/api/team/invitations/{i}", "manage:team"),
    ("GET", "/api/team/permissions", "read:team"),
]
PUBLIC = {
    ("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"), ("POST", "/api/auth/password-reset/request"),
    ("POST", "/api/auth/password-reset/confirm"), ("POST", "/api/auth/google/initiate"),
    ("POST", "/api/auth/forgot-password"), ("POST", "/api/auth/reset-password"),
    ("GET", "/api/auth/google/callback"), ("POST", "/api/auth/google/callback"),
    ("GET", "/api/calendar/oauth/callback"),
    ("GET", "/api/calendar/microsoft/oauth/callback"),
    ("GET", "/api/recordings/{token}"),   # the signed link is the credential
    ("POST", "/api/stripe/webhook"),      # Stripe-Signature is the credential
    ("POST", "/api/team/invitations/{token}/accept"),  # the invitation is the credential
}
_IDS = [f"{m} {p}" for m, p, _ in ROUTES]


@dataclass
class World:
    server: LiveServer
    owner: User
    ids: dict[str, object]
    # One key per missing scope, shared by the routes that need that scope (an owner may
    # hold only so many live keys).
    keys_without: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def world(pg_url):
    async with api_server(pg_url) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        owner = await register(http)
        client = await owner.create_client()
        contact = await owner.post(f"/api/clients/{client['id']}/contacts",
                                   json={"phone_number": "+14155550155"})
        key = await owner.create_key("read:clients")
        yield World(srv, owner, {"c": client["id"], "k": contact.json()["id"], "v": 1,
                                 "a": key["id"], "key": "voice_speed", "p": 1,
                                 "provider": "google", "w": 1, "d": 1, "n": "PN1", "l": 1,
                                 "x": 1, "u": owner.id, "i": 1})


def test_the_table_covers_every_operation(world):
    doc = world.server.app.openapi()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    table = {(m, p.replace("{c}", "{client_id}").replace("{k}", "{contact_id}")
              .replace("{v}", "{conversation_id}").replace("{a}", "{key_id}")
              .replace("{p}", "{appointment_id}")
              .replace("{w}", "{endpoint_id}").replace("{d}", "{delivery_id}")
              .replace("{n}", "{number_sid}").replace("{l}", "{call_id}")
              .replace("{x}", "{execution_id}").replace("{u}", "{user_id}")
              .replace("{i}", "{invitation_id}"))
             for m, p, _ in ROUTES}
    assert documented == table | PUBLIC
    for method, path in table:
        op = doc["paths"][path][method.lower()]
        assert {"bearer": []} in op["security"] and {"apiKey": []} in op["security"]
        assert "401" in op["responses"] and "429" in op["responses"]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES, ids=_IDS)
async def test_no_or_bad_credentials_are_401(world, method, path, scope):
    url = world.server.url + path.format(**world.ids)
    async with httpx.AsyncClient() as http:
        for headers in ({}, {"Authorization": "Bearer not-a-token"},
                        {"Authorization": "Basic dXNlcjpwYXNz"}, {"X-API-Key": "fd_bad"},
                        {"Authorization": "Bearer fd_00000000_" + "x" * 43}):
            response = await http.request(method, url, headers=headers, json={})
            assert_error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "scope"), [r for r in ROUTES if r[2]],
                         ids=[i for i, r in zip(_IDS, ROUTES, strict=True) if r[2]])
async def test_a_key_without_the_scope_is_403(world, method, path, scope):
    if scope not in world.keys_without:
        granted = sorted(ALL - {scope})
        world.keys_without[scope] = (await world.owner.create_key(*granted))["key"]
    key = world.keys_without[scope]
    async with httpx.AsyncClient(base_url=world.server.url) as http:
        response = await http.request(method, path.format(**world.ids), json={},
                                      headers={"X-API-Key": key})
    body = assert_error(response, 403)
    if scope == "session":
        assert body["error_code"] == "session_required"
    else:
        assert body["error_code"] == "missing_scope" and scope in body["detail"]
