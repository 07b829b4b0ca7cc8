"""E-mail: the test endpoint through SMTP (aiosmtpd), Resend and SendGrid servers on
127.0.0.1 and in stub mode; owner notifications; the low-balance warning, once per grant."""

from __future__ import annotations

import httpx

from db import usage
from tests.factories import make_client
from tests.fake_mail import email_api, smtp_server
from tests.test_api_support import api_server, assert_error, fields, register
from tests.waiting import until

TEST = {"to": "owner@example.com", "subject": "frontdesk test", "text": "It works."}


async def test_the_email_test_sends_through_smtp(pg_url, pool):
    async with smtp_server() as smtp, api_server(pg_url, smtp_url=smtp.url,
                                                 mail_from="desk@example.com") as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        response = await owner.post("/api/v1/integrations/email/test", json=TEST)
        assert response.status_code == 200, response.text
        assert response.json() == {"backend": "smtp", "delivered": True,
                                   "message": "sent through smtp"}
        assert smtp.messages == [{"from": "desk@example.com", "to": ["owner@example.com"],
                                  "subject": "frontdesk test", "text": "It works."}]
        # validation: address, subject 1-120, text 1-2000
        for bad, field in (({**TEST, "to": "nobody"}, "to"), ({**TEST, "subject": ""}, "subject"),
                           ({**TEST, "subject": "x" * 121}, "subject"),
                           ({**TEST, "text": "x" * 2001}, "text")):
            assert fields(await owner.post("/api/integrations/email/test", json=bad)) == {field}
        # a refusing server is a 502 with the one error shape
        smtp.fail = 1
        assert_error(await owner.post("/api/integrations/email/test", json=TEST), 502,
                     "email_failed")


async def test_stub_mode_and_the_http_backends(pg_url):
    async with api_server(pg_url, integrations_stub_mode=True) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        body = (await owner.post("/api/integrations/email/test", json=TEST)).json()
        assert body == {"backend": "stub", "delivered": False,
                        "message": "stub mode: the e-mail was not sent"}
    async with email_api() as api:
        for backend, key in (("resend", {"resend_api_key": "re_test"}),
                             ("sendgrid", {"sendgrid_api_key": "SG.test"})):
            async with api_server(pg_url, resend_api_url=api.url, sendgrid_api_url=api.url,
                                  **key) as server, \
                    httpx.AsyncClient(base_url=server.url) as http:
                owner = await register(http)
                response = await owner.post("/api/integrations/email/test", json=TEST)
                assert response.json()["backend"] == backend, response.text
                assert response.json()["delivered"] is True
        assert [(m["api"], m["to"], m["subject"]) for m in api.messages] == [
            ("resend", ["owner@example.com"], "frontdesk test"),
            ("sendgrid", ["owner@example.com"], "frontdesk test")]


async def test_a_failing_backend_opens_the_breaker_and_the_api_answers_503(pg_url):
    async with email_api() as api, api_server(pg_url, resend_api_key="re_test",
                                              resend_api_url=api.url) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        api.fail = 3
        for _ in range(3):
            assert_error(await owner.post("/api/integrations/email/test", json=TEST), 502)
        response = await owner.post("/api/integrations/email/test", json=TEST)
        body = assert_error(response, 503, "service_unavailable")
        assert "unavailable" in body["detail"]
        assert 1 <= int(response.headers["retry-after"]) <= 30
        assert api.messages == []        # the open breaker did not call it


async def test_owners_hear_of_bookings_and_low_balance_once_per_grant(pg_url, pool):
    async with smtp_server() as smtp, api_server(pg_url, smtp_url=smtp.url) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        client = await make_client(pool, owner_id=owner.id, balance_seconds=0)
        await usage.credit(pool, client_id=client.id, seconds=1000, reason="topup")
        await usage.debit(pool, client_id=client.id, conversation_id=None, seconds=850,
                          reason="call_tick")           # 150 left: above 10 %
        assert await pool.fetchval("SELECT count(*) FROM events") == 0
        for _ in range(3):                               # 80, 10, 0 left: warned once
            await usage.debit(pool, client_id=client.id, conversation_id=None, seconds=70,
                              reason="call_tick")
        await until(lambda: _ready(smtp.messages), what="the warning")
        await usage.credit(pool, client_id=client.id, seconds=100, reason="topup")
        await usage.debit(pool, client_id=client.id, conversation_id=None, seconds=95,
                          reason="call_tick")            # a new grant: a new warning
        await until(lambda: _ready(len(smtp.messages) == 2), what="the second warning")
        assert [m["to"] for m in smtp.messages] == [[owner.email]] * 2
        assert "running low" in smtp.messages[0]["subject"]
        assert "80 s" in smtp.messages[0]["text"]
        assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'balance.low'") == 2


async def _ready(value):
    return value


async def test_the_daily_digest_goes_once_at_the_clients_hour(pg_url, pool):
    from datetime import UTC, datetime

    from events.deps import Deps
    from events.notifications import digests

    async with smtp_server() as smtp, api_server(pg_url, smtp_url=smtp.url) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        client = await make_client(pool, owner_id=owner.id, timezone="America/New_York")
        for sid, outcome in (("CA1", "booked"), ("CA2", "no_action")):
            await pool.execute(
                "INSERT INTO conversations (call_sid, client_id, caller_phone, status,"
                " started_at, ended_at, duration_seconds, outcome, summary) VALUES ($1, $2,"
                " '+12125550100', 'ended', '2026-06-01 15:00Z', '2026-06-01 15:02Z', 120, $3,"
                " $4)", sid, client.id, outcome, f"summary of {sid}")
        deps = Deps(server.settings, pool, http, sealer=None)  # type: ignore[arg-type]
        assert await digests(deps, now=datetime(2026, 6, 2, 11, 5, tzinfo=UTC)) == 0  # 7 am
        assert await digests(deps, now=datetime(2026, 6, 2, 12, 5, tzinfo=UTC)) == 1  # 8 am
        assert await digests(deps, now=datetime(2026, 6, 2, 12, 35, tzinfo=UTC)) == 0  # sent
        await until(lambda: _ready(smtp.messages), what="the digest")
        (digest,) = smtp.messages
        assert digest["subject"] == f"{client.name}: calls on Mon Jun 1"
        assert "2 call(s), 4 min in all: 1 booked, 1 no action" in digest["text"]
        assert "summary of CA1" in digest["text"]


async def test_the_agents_send_email_reaches_the_office(pg_url, pool):
    from tools.context import ToolContext
    from tools.messaging import send_email

    async with smtp_server() as smtp, api_server(pg_url, smtp_url=smtp.url) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        client = await make_client(pool, owner_id=owner.id)
        ctx = ToolContext(pool=pool, client=client, conversation_id=None,
                          caller_phone="+12125550100")
        assert await send_email(ctx, "Call back", "Ana wants a call back.") == {
            "sent": True, "to": "the office"}
        await until(lambda: _ready(smtp.messages), what="the e-mail")
        assert smtp.messages[0]["to"] == [owner.email]
        assert smtp.messages[0]["text"] == "Ana wants a call back."
