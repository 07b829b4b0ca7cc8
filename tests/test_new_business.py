"""A business from sign-up to its first paid minutes, as a newcomer would go: register,
create a client, take a call on the trial balance, buy a top-up through (the local) Stripe
Checkout and see the seconds arrive through the signed webhook, invite a colleague as a
member who reads the calls but not the billing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.caller import FakeCall
from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, fake_stripe
from tests.team_support import join, team_server
from tests.test_api_support import SmtpSink, assert_error, register
from tests.waiting import ended

TRIAL = 600


@pytest.fixture
async def world(pg_url: str, pool: asyncpg.Pool) -> AsyncIterator[tuple[str, SmtpSink,
                                                                         FakeStripe]]:
    async with fake_stripe() as stripe_api, team_server(
            pg_url, stripe_secret_key=SECRET_KEY, stripe_webhook_secret=WEBHOOK_SECRET,
            stripe_api_base=stripe_api.url) as (server, sink):
        stripe_api.webhook_url = f"{server.url}/api/stripe/webhook"
        yield server.url, sink, stripe_api


async def test_sign_up_trial_call_top_up_and_a_colleague(world, pool: asyncpg.Pool) -> None:
    url, sink, stripe_api = world
    async with httpx.AsyncClient(base_url=url) as http:
        owner = await register(http)
        client = await owner.create_client(name="Bright Smile Dental")
        assert client["balance_seconds"] == TRIAL

        # The first call runs on the trial.
        call = FakeCall(url, to=client["phone_number"])
        await call.dial()
        await call.connect()
        await call.wait_for_agent()
        await call.hang_up()
        conv = await ended(pool, call.call_sid)
        assert conv.billed_seconds > 0
        after_call = (await owner.get(f"/api/clients/{client['id']}")).json()["balance_seconds"]
        assert after_call == TRIAL - conv.billed_seconds

        # A top-up through Checkout: the seconds come with Stripe's signed webhook.
        checkout = await owner.post("/api/billing/top-ups/checkout",
                                    json={"client_id": client["id"], "pack": "minutes_100"})
        assert checkout.status_code == 201, checkout.text
        assert (await http.get(checkout.json()["url"])).status_code == 200
        balance = (await owner.get(f"/api/clients/{client['id']}")).json()["balance_seconds"]
        assert balance == after_call + 100 * 60

        # A colleague joins as a member: calls yes, billing no.
        member = await join(owner, sink, "member")
        calls = await member.get("/api/calls")
        assert calls.status_code == 200, calls.text
        assert [c["call_sid"] for c in calls.json()["items"]] == [call.call_sid]
        for path in ("/api/billing/usage", "/api/billing/subscription",
                     "/api/billing/invoices"):
            assert_error(await member.get(path), 403, "missing_permission")
        assert_error(await member.post("/api/billing/top-ups/checkout", json={
            "client_id": client["id"], "pack": "minutes_100"}), 403, "missing_permission")
        assert (await owner.get("/api/billing/usage")).status_code == 200
