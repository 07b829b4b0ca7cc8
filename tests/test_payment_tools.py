"""The agent's Stripe tools: create_payment makes a Checkout link for a deposit or a fee,
texts it when the line can text, and Stripe's webhook marks it paid; get_subscription reads
the caller's own membership. Without Stripe both say payments cannot be taken here."""

from __future__ import annotations

import dataclasses

import asyncpg
import httpx

from db import payments
from frontdesk.settings import Settings
from tests.fake_stripe import FakeStripe
from tests.live import LiveServer
from tests.test_billing import server, stripe_server  # noqa: F401  (the module's fixtures)
from tests.test_transfer_tool import CALLER, make_ctx
from tools.audit import run_tool
from tools.context import ToolContext
from tools.payments import NO_PAYMENTS, UNAVAILABLE

__all__ = ["server", "stripe_server"]


async def ctx_on(pool: asyncpg.Pool, settings: Settings, **client_settings: object
                 ) -> ToolContext:
    ctx = await make_ctx(pool)
    client = dataclasses.replace(ctx.client, settings={**ctx.client.settings,
                                                       **client_settings})
    return dataclasses.replace(ctx, client=client, settings=settings)


async def test_a_payment_link_is_texted_to_the_caller_and_marked_paid_by_stripe(
        server: LiveServer, stripe_server: FakeStripe, pool: asyncpg.Pool) -> None:  # noqa: F811
    ctx = await ctx_on(pool, server.settings)
    out = await run_tool(ctx, "create_payment", {"amount": 25,
                                                 "description": "Deposit for Tuesday 3 PM"})
    assert out == {"created": True, "amount": "25.00 USD", "texted": True,
                   "tell_caller": "the payment link is on its way by text message"}
    sent = stripe_server.posted("/v1/checkout/sessions")[-1]
    assert sent["mode"] == "payment" and sent["metadata"]["kind"] == "caller_payment"
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "2500"
    [payment] = await payments.for_conversation(pool, ctx.conversation_id)
    assert (payment.amount_cents, payment.status, payment.texted) == (2500, "open", True)
    sms = await pool.fetchrow("SELECT to_number, body FROM sms_messages WHERE client_id = $1",
                              ctx.client.id)
    assert sms["to_number"] == CALLER and payment.url in sms["body"]

    async with httpx.AsyncClient() as http:
        assert (await http.get(payment.url)).status_code == 200   # the caller pays
    assert stripe_server.delivered[-1][1] == 200
    [paid] = await payments.for_conversation(pool, ctx.conversation_id)
    assert paid.status == "paid" and paid.paid_at is not None

    # The tool ran through the audit like every tool.
    row = await pool.fetchrow("SELECT tool_name, status FROM tool_executions"
                              " WHERE conversation_id = $1", ctx.conversation_id)
    assert tuple(row) == ("create_payment", "success")


async def test_without_texting_the_office_sends_the_link(
        server: LiveServer, stripe_server: FakeStripe, pool: asyncpg.Pool) -> None:  # noqa: F811
    settings = server.settings.model_copy(update={"twilio_auth_token": None})
    ctx = await ctx_on(pool, settings)
    out = await run_tool(ctx, "create_payment", {"amount": 40.5, "description": "Late fee"})
    assert out.get("created") is True and out["texted"] is False, out
    assert out["tell_caller"] == "we'll send you the payment link"
    assert await pool.fetchval("SELECT count(*) FROM sms_messages") == 0
    [payment] = await payments.for_conversation(pool, ctx.conversation_id)
    assert payment.amount_cents == 4050 and not payment.texted


async def test_amounts_outside_the_clients_bounds_are_refused_and_links_per_call_limited(
        server: LiveServer, stripe_server: FakeStripe, pool: asyncpg.Pool) -> None:  # noqa: F811
    ctx = await ctx_on(pool, server.settings, payment_max_amount=100)
    for amount in (0.1, 100.01, "lots", -5):
        out = await run_tool(ctx, "create_payment", {"amount": amount, "description": "Fee"})
        assert "amount must be" in out["error"], out
    assert (await run_tool(ctx, "create_payment", {"amount": 5, "description": " "}))[
        "error"].startswith("description")
    for _ in range(3):
        assert (await run_tool(ctx, "create_payment", {"amount": 100, "description": "Fee"}))[
            "created"] is True
    fourth = await run_tool(ctx, "create_payment", {"amount": 10, "description": "Fee"})
    assert fourth == {"created": False, "reason": "enough payment links were sent on this call"}
    keys = [r["idempotency_key"] for r in stripe_server.requests
            if r["path"] == "/v1/checkout/sessions"][-3:]
    assert len(set(keys)) == 3


async def test_a_connected_account_receives_the_payment(
        server: LiveServer, stripe_server: FakeStripe, pool: asyncpg.Pool) -> None:  # noqa: F811
    ctx = await ctx_on(pool, server.settings, stripe_account="acct_1BrightSmile")
    assert (await run_tool(ctx, "create_payment", {"amount": 30, "description": "Deposit"}))[
        "created"] is True
    assert stripe_server.requests[-1]["stripe_account"] == "acct_1BrightSmile"


async def test_the_callers_own_membership_is_read_by_their_number(
        server: LiveServer, stripe_server: FakeStripe, pool: asyncpg.Pool) -> None:  # noqa: F811
    ctx = await ctx_on(pool, server.settings)
    assert await run_tool(ctx, "get_subscription", {}) == {
        "found": False, "reason": "no membership under the number you are calling from"}
    sub = stripe_server.member(CALLER, "Gold membership")
    out = await run_tool(ctx, "get_subscription", {})
    assert out["found"] is True and out["membership"] == "Gold membership"
    assert out["status"] == "active" and out["renews_on"]
    search = [r for r in stripe_server.requests if r["path"] == "/v1/customers/search"][-1]
    assert search["form"]["query"] == f"phone:'{CALLER}'"

    sub["cancel_at_period_end"] = True
    ending = await run_tool(ctx, "get_subscription", {})
    assert "ends_on" in ending and "renews_on" not in ending

    hidden = dataclasses.replace(ctx, caller_phone="anonymous")
    assert (await run_tool(hidden, "get_subscription", {}))["reason"] == \
        "the number you are calling from is hidden"


async def test_without_stripe_the_tools_say_payments_cannot_be_taken_here(
        server: LiveServer, pool: asyncpg.Pool) -> None:  # noqa: F811
    settings = server.settings.model_copy(update={"stripe_secret_key": None})
    ctx = await ctx_on(pool, settings)
    assert await run_tool(ctx, "create_payment", {"amount": 20, "description": "Deposit"}) \
        == {"created": False, "reason": NO_PAYMENTS}
    assert (await run_tool(ctx, "get_subscription", {}))["found"] is False
    assert await pool.fetchval("SELECT count(*) FROM payments") == 0


async def test_stripe_unreachable_is_said_plainly(server: LiveServer,  # noqa: F811
                                                  pool: asyncpg.Pool) -> None:
    settings = server.settings.model_copy(update={"stripe_api_base": "http://127.0.0.1:9"})
    ctx = await ctx_on(pool, settings)
    assert await run_tool(ctx, "create_payment", {"amount": 20, "description": "Deposit"}) \
        == {"created": False, "reason": UNAVAILABLE}
    assert (await run_tool(ctx, "get_subscription", {}))["reason"] == \
        "memberships cannot be looked up right now"
