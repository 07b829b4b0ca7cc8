"""Billing with Stripe: Checkout for top-ups and plans, the signed webhook crediting what was
paid (once per event, once per session), subscriptions' plans and grace periods, usage,
invoices, per-plan API rate limits. Stripe is a local server speaking its API
(tests/fake_stripe.py); signatures come from the ``stripe`` package's own helper."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import stripe

from api.plans import PACKS, PLANS
from db import billing, usage
from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, event, fake_stripe, signed
from tests.live import LiveServer
from tests.test_api_support import User, api_server, assert_error, key_headers, register

PRICE_PRO = "price_pro_monthly"
PRICE_ENTERPRISE = "price_enterprise_monthly"
TRIAL = 600


@pytest.fixture(scope="module")
async def stripe_server() -> AsyncIterator[FakeStripe]:
    async with fake_stripe() as fake:
        yield fake


@pytest.fixture(scope="module")
async def server(pg_url: str, stripe_server: FakeStripe) -> AsyncIterator[LiveServer]:
    async with api_server(pg_url, stripe_secret_key=SECRET_KEY,
                          stripe_webhook_secret=WEBHOOK_SECRET,
                          stripe_api_base=stripe_server.url, stripe_price_pro=PRICE_PRO,
                          stripe_price_enterprise=PRICE_ENTERPRISE,
                          plan_api_requests_per_hour="free=100,pro=1000") as srv:
        stripe_server.webhook_url = f"{srv.url}/api/stripe/webhook"
        yield srv


@pytest.fixture
async def http(server: LiveServer, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def balance(pool: asyncpg.Pool, client_id: int) -> int:
    return await pool.fetchval("SELECT balance_seconds FROM clients WHERE id = $1", client_id)


async def ledger_balance(pool: asyncpg.Pool, client_id: int) -> int:
    """What the ledger says the balance is (credits are negative rows)."""
    return -await pool.fetchval("SELECT coalesce(sum(seconds), 0) FROM usage_ledger"
                                " WHERE client_id = $1", client_id)


async def buy_pack(user: User, stripe_server: FakeStripe, client_id: int,
                   pack: str = "minutes_100") -> dict:
    response = await user.post("/api/billing/top-ups/checkout",
                               json={"client_id": client_id, "pack": pack})
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_top_up_bought_through_checkout_arrives_through_the_signed_webhook(
        http: httpx.AsyncClient, pool: asyncpg.Pool, stripe_server: FakeStripe) -> None:
    owner = await register(http)
    client = await owner.create_client()
    assert await balance(pool, client["id"]) == TRIAL
    checkout = await buy_pack(owner, stripe_server, client["id"])
    assert checkout["url"].startswith(stripe_server.url + "/pay/cs_test_")

    sent = stripe_server.posted("/v1/checkout/sessions")[-1]
    assert sent["mode"] == "payment" and sent["metadata"]["client_id"] == str(client["id"])
    assert sent["line_items"][0]["price_data"]["unit_amount"] == str(PACKS["minutes_100"]
                                                                      .price_cents)
    customer = stripe_server.customers[sent["customer"]]
    assert customer["email"] == owner.email

    assert (await http.get(checkout["url"])).status_code == 200  # the buyer pays
    assert stripe_server.delivered[-1][1] == 200
    assert await balance(pool, client["id"]) == TRIAL + 6000
    row = await pool.fetchrow("SELECT seconds, reason, note FROM usage_ledger"
                              " WHERE client_id = $1 ORDER BY id DESC LIMIT 1", client["id"])
    assert tuple(row) == (-6000, "stripe_topup", checkout["session_id"])
    assert await ledger_balance(pool, client["id"]) == await balance(pool, client["id"])

    # The same customer serves the organisation's next purchase.
    await buy_pack(owner, stripe_server, client["id"], "minutes_500")
    assert stripe_server.posted("/v1/checkout/sessions")[-1]["customer"] == sent["customer"]
    assert len([c for c in stripe_server.customers.values()
                if c["metadata"]["organization_id"] == sent["metadata"]["organization_id"]]) == 1


async def test_a_replayed_retried_or_duplicated_event_credits_once(
        http: httpx.AsyncClient, pool: asyncpg.Pool, stripe_server: FakeStripe) -> None:
    owner = await register(http)
    client = await owner.create_client()
    checkout = await buy_pack(owner, stripe_server, client["id"])
    await http.get(checkout["url"])
    credited = await balance(pool, client["id"])
    assert credited == TRIAL + 6000
    first, _ = stripe_server.delivered[-1]

    body, headers = signed(first)  # a retry: same event, signed again
    again = await http.post("/api/stripe/webhook", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    replays = await asyncio.gather(*(
        http.post("/api/webhooks/stripe", content=body, headers=headers) for _ in range(5)))
    assert all(r.status_code == 200 and r.json()["duplicate"] for r in replays)

    # Another event naming the same session (a late async_payment_succeeded) credits nothing.
    late = event("checkout.session.async_payment_succeeded", first["data"]["object"])
    body, headers = signed(late)
    answer = await http.post("/api/stripe/webhook", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["outcome"] == "already credited"
    assert await balance(pool, client["id"]) == credited
    assert await pool.fetchval("SELECT count(*) FROM usage_ledger WHERE reason ="
                               " 'stripe_topup' AND client_id = $1", client["id"]) == 1


async def test_concurrent_first_deliveries_of_one_event_credit_once(
        http: httpx.AsyncClient, pool: asyncpg.Pool, stripe_server: FakeStripe) -> None:
    owner = await register(http)
    client = await owner.create_client()
    checkout = await buy_pack(owner, stripe_server, client["id"], "minutes_500")
    session = stripe_server.sessions[checkout["session_id"]] | {"payment_status": "paid",
                                                                "status": "complete"}
    body, headers = signed(event("checkout.session.completed", session))
    answers = await asyncio.gather(*(
        http.post("/api/stripe/webhook", content=body, headers=headers) for _ in range(6)))
    assert [r.status_code for r in answers] == [200] * 6
    assert sum(not r.json()["duplicate"] for r in answers) == 1
    assert await balance(pool, client["id"]) == TRIAL + 500 * 60


@pytest.mark.parametrize("tamper", ["wrong_secret", "changed_body", "stale", "missing",
                                    "not_json", "garbage_header"])
async def test_a_webhook_that_is_not_from_stripe_is_refused_and_changes_nothing(
        tamper: str, http: httpx.AsyncClient, pool: asyncpg.Pool,
        stripe_server: FakeStripe) -> None:
    owner = await register(http)
    client = await owner.create_client()
    checkout = await buy_pack(owner, stripe_server, client["id"])
    session = stripe_server.sessions[checkout["session_id"]] | {"payment_status": "paid"}
    ev = event("checkout.session.completed", session)
    body, headers = signed(ev)
    code = "invalid_signature"
    if tamper == "wrong_secret":
        body, headers = signed(ev, secret="whsec_someone_else")
    elif tamper == "changed_body":
        body = body.replace('"minutes_100"', '"minutes_2000"')
    elif tamper == "stale":
        body, headers = signed(ev, timestamp=int(time.time()) - 301)
    elif tamper == "missing":
        headers.pop("Stripe-Signature")
        code = "missing_signature"
    elif tamper == "not_json":  # signed correctly, but not an event
        body = "{not json"
        headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
            body, WEBHOOK_SECRET)
        code = "invalid_event"
    else:
        headers["Stripe-Signature"] = "v1=deadbeef"
    response = await http.post("/api/stripe/webhook", content=body, headers=headers)
    assert_error(response, 400, code)
    assert await balance(pool, client["id"]) == TRIAL
    assert await pool.fetchval("SELECT count(*) FROM stripe_events WHERE id = $1",
                               ev["id"]) == 0


async def test_a_top_up_racing_calls_of_the_same_client_loses_no_second(
        http: httpx.AsyncClient, pool: asyncpg.Pool, stripe_server: FakeStripe) -> None:
    owner = await register(http)
    client = await owner.create_client()
    checkout = await buy_pack(owner, stripe_server, client["id"], "minutes_2000")
    session = stripe_server.sessions[checkout["session_id"]] | {"payment_status": "paid"}
    body, headers = signed(event("checkout.session.completed", session))
    before = await balance(pool, client["id"])

    async def debits() -> int:
        taken = 0
        for _ in range(40):
            taken += (await usage.debit(pool, client_id=client["id"], conversation_id=None,
                                        seconds=7, reason="call_tick")).seconds
        return taken

    answer, *taken = await asyncio.gather(
        http.post("/api/stripe/webhook", content=body, headers=headers), debits(), debits())
    assert answer.status_code == 200, answer.text
    after = await balance(pool, client["id"])
    assert after == before + 2000 * 60 - sum(taken)
    assert await ledger_balance(pool, client["id"]) == after


async def test_a_top_up_for_another_organisations_client_is_not_found(
        http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    mine, theirs = await register(http), await register(http)
    their_client = await theirs.create_client()
    response = await mine.post("/api/billing/top-ups/checkout",
                               json={"client_id": their_client["id"], "pack": "minutes_100"})
    assert_error(response, 404)
    unknown = await mine.post("/api/billing/top-ups/checkout",
                              json={"client_id": their_client["id"], "pack": "minutes_7"})
    assert_error(unknown, 422)


async def test_a_forged_session_for_another_organisations_client_credits_nothing(
        http: httpx.AsyncClient, pool: asyncpg.Pool, stripe_server: FakeStripe) -> None:
    """Even a signed event only credits a client of the organisation it names."""
    mine, theirs = await register(http), await register(http)
    my_client, their_client = await mine.create_client(), await theirs.create_client()
    checkout = await buy_pack(mine, stripe_server, my_client["id"])
    session = stripe_server.sessions[checkout["session_id"]]
    forged = session | {"payment_status": "paid", "metadata": session["metadata"] | {
        "client_id": str(their_client["id"])}}
    body, headers = signed(event("checkout.session.completed", forged))
    answer = await http.post("/api/stripe/webhook", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["outcome"].startswith("ignored")
    assert await balance(pool, their_client["id"]) == TRIAL
    assert await balance(pool, my_client["id"]) == TRIAL


async def test_a_subscription_sets_the_plan_grants_its_minutes_and_can_change_and_end(
        http: httpx.AsyncClient, pool: asyncpg.Pool, stripe_server: FakeStripe) -> None:
    owner = await register(http)
    first, second = await owner.create_client(), await owner.create_client()
    assert (await owner.get("/api/billing/subscription")).json()["plan"] == "free"
    started = await owner.post("/api/billing/subscription/checkout",
                               json={"plan": "pro", "client_id": second["id"]})
    assert started.status_code == 201, started.text
    sent = stripe_server.posted("/v1/checkout/sessions")[-1]
    assert sent["mode"] == "subscription" and sent["line_items"][0]["price"] == PRICE_PRO
    await http.get(started.json()["url"])
    assert all(status == 200 for _, status in stripe_server.delivered[-3:])

    sub = (await owner.get("/api/billing/subscription")).json()
    assert sub["plan"] == "pro" and sub["status"] == "active"
    assert sub["grant_client_id"] == second["id"] and sub["current_period_end"]
    assert await balance(pool, second["id"]) == PLANS["pro"].included_minutes * 60
    assert await balance(pool, first["id"]) == TRIAL

    use = (await owner.get("/api/billing/usage")).json()
    assert use["minutes_limit"] == 1000 and use["plan"] == "pro"
    assert use["resets_at"].startswith(sub["current_period_end"][:16])

    again = await owner.post("/api/billing/subscription/checkout", json={"plan": "pro"})
    assert_error(again, 409, "subscription_exists")

    changed = await owner.post("/api/billing/subscription/upgrade", json={"plan": "enterprise"})
    assert changed.status_code == 200, changed.text
    assert (await owner.get("/api/billing/subscription")).json()["plan"] == "enterprise"
    assert stripe_server.posted(f"/v1/subscriptions/{sub_id(stripe_server)}")[-1][
        "items"][0]["price"] == PRICE_ENTERPRISE

    cancelled = await owner.post("/api/billing/subscription/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_at_period_end"] is True

    invoices = (await owner.get("/api/billing/invoices")).json()
    assert len(invoices) == 1 and invoices[0]["status"] == "paid"

    # Stripe ends it: the plan stays for the grace period, then falls back to free.
    org_id = int(sent["metadata"]["organization_id"])
    ended = stripe_server.subscriptions[sub_id(stripe_server)] | {"status": "canceled"}
    await stripe_server.deliver("customer.subscription.deleted", ended)
    sub = (await owner.get("/api/billing/subscription")).json()
    assert sub["plan"] == "enterprise" and sub["downgrade_at"] is not None
    await pool.execute("UPDATE billing_accounts SET downgrade_at = now() - interval '1 s'"
                       " WHERE organization_id = $1", org_id)  # the grace period has passed
    assert await billing.apply_due_downgrades(pool) == [org_id]
    assert (await owner.get("/api/billing/subscription")).json()["plan"] == "free"


def sub_id(stripe_server: FakeStripe) -> str:
    return list(stripe_server.subscriptions)[-1]


async def test_a_failed_payment_keeps_the_plan_for_the_grace_period_and_a_paid_one_ends_it(
        http: httpx.AsyncClient, pool: asyncpg.Pool, stripe_server: FakeStripe) -> None:
    owner = await register(http)
    client = await owner.create_client()
    started = await owner.post("/api/billing/subscription/checkout", json={"plan": "pro"})
    await http.get(started.json()["url"])
    sub = stripe_server.subscriptions[sub_id(stripe_server)]
    failed = await stripe_server.deliver("invoice.payment_failed",
                                         stripe_server.invoice(sub, paid=False))
    assert stripe_server.delivered[-1] == (failed, 200)
    state = (await owner.get("/api/billing/subscription")).json()
    assert state["plan"] == "pro" and state["status"] == "past_due" and state["downgrade_at"]

    granted = await balance(pool, client["id"])
    await stripe_server.deliver("invoice.paid", stripe_server.invoice(sub, paid=True))
    state = (await owner.get("/api/billing/subscription")).json()
    assert state["status"] == "active" and state["downgrade_at"] is None
    assert await balance(pool, client["id"]) == granted + PLANS["pro"].included_minutes * 60


async def test_billing_answers_503_without_stripe_and_says_which_setting(
        pg_url: str, pool: asyncpg.Pool) -> None:
    async with api_server(pg_url) as bare, httpx.AsyncClient(base_url=bare.url) as http:
        owner = await register(http)
        client = await owner.create_client()
        assert_error(await owner.post("/api/billing/top-ups/checkout", json={
            "client_id": client["id"], "pack": "minutes_100"}), 503, "billing_not_configured")
        assert_error(await owner.post("/api/billing/subscription/checkout",
                                      json={"plan": "pro"}), 503)
        body, headers = signed(event("invoice.paid", {"id": "in_1"}))
        assert_error(await http.post("/api/stripe/webhook", content=body, headers=headers),
                     503, "billing_not_configured")
        plans = (await owner.get("/api/billing/plans")).json()["plans"]
        assert {p["name"]: p["available"] for p in plans} == {
            "free": True, "pro": False, "enterprise": False}
        assert (await owner.get("/api/billing/invoices")).json() == []


async def test_usage_counts_this_periods_calls(http: httpx.AsyncClient,
                                               pool: asyncpg.Pool) -> None:
    owner = await register(http)
    client = await owner.create_client()
    await usage.debit(pool, client_id=client["id"], conversation_id=None, seconds=90,
                      reason="call_tick")
    use = (await owner.get("/api/billing/usage")).json()
    assert use["plan"] == "free" and use["minutes_used"] == 1.5
    assert use["minutes_limit"] == 0 and use["percentage"] is None
    assert use["balance_minutes"] == (TRIAL - 90) / 60


async def test_the_payment_method_is_changed_in_checkout_setup_mode(
        http: httpx.AsyncClient, stripe_server: FakeStripe) -> None:
    owner = await register(http)
    response = await owner.post("/api/billing/payment-method")
    assert response.status_code == 201, response.text
    sent = stripe_server.posted("/v1/checkout/sessions")[-1]
    assert sent["mode"] == "setup"
    await http.get(response.json()["url"])  # the card is entered on Stripe's page
    assert stripe_server.delivered[-1][1] == 200
    customer = stripe_server.customers[sent["customer"]]
    assert customer["invoice_settings"] == {"default_payment_method": "pm_card_visa"}


async def test_api_keys_are_limited_per_plan_and_sessions_are_not(
        http: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    owner = await register(http)
    key = (await owner.create_key("read:clients"))["key"]
    limit = PLANS["free"].api_requests_per_hour
    for _ in range(limit):
        ok = await http.get("/api/clients", headers=key_headers(key))
        assert ok.status_code == 200, ok.text
    refused = await http.get("/api/clients", headers=key_headers(key))
    body = assert_error(refused, 429)
    assert f"rate limit of {limit} requests per 3600 s" in body["detail"]
    assert (await owner.get("/api/clients")).status_code == 200

    # Enterprise: unlimited.
    await pool.execute("UPDATE organizations SET plan = 'enterprise' FROM memberships m"
                       " WHERE m.organization_id = organizations.id AND m.user_id = $1",
                       owner.id)
    assert (await http.get("/api/clients", headers=key_headers(key))).status_code == 200


async def test_an_invoice_paid_before_its_checkout_completes_still_grants_once(
        http: httpx.AsyncClient, pool: asyncpg.Pool, stripe_server: FakeStripe) -> None:
    """Stripe does not keep events in order: the first invoice can come first."""
    owner = await register(http)
    first, chosen = await owner.create_client(), await owner.create_client()
    started = await owner.post("/api/billing/subscription/checkout",
                               json={"plan": "pro", "client_id": chosen["id"]})
    session = stripe_server.sessions[started.json()["session_id"]]
    session.update(status="complete", payment_status="paid")
    sub = stripe_server._subscription(session)
    session["subscription"] = sub["id"]
    invoice = stripe_server.invoice(sub, paid=True)
    await stripe_server.deliver("invoice.paid", invoice)
    assert stripe_server.delivered[-1][1] == 200
    assert (await owner.get("/api/billing/subscription")).json()["plan"] == "pro"
    assert await balance(pool, chosen["id"]) == PLANS["pro"].included_minutes * 60
    await stripe_server.deliver("checkout.session.completed", session)
    await stripe_server.deliver("invoice.paid", invoice | {})   # a second event, same invoice
    assert await balance(pool, chosen["id"]) == PLANS["pro"].included_minutes * 60
    assert await balance(pool, first["id"]) == TRIAL
    state = (await owner.get("/api/billing/subscription")).json()
    assert state["plan"] == "pro" and state["grant_client_id"] == chosen["id"]


async def test_a_checkout_arriving_after_its_subscription_was_deleted_does_not_revive_it(
        http: httpx.AsyncClient, pool: asyncpg.Pool, stripe_server: FakeStripe) -> None:
    owner = await register(http)
    await owner.create_client()
    started = await owner.post("/api/billing/subscription/checkout", json={"plan": "pro"})
    session = stripe_server.sessions[started.json()["session_id"]]
    session.update(status="complete", payment_status="paid")
    sub = stripe_server._subscription(session)
    session["subscription"] = sub["id"]
    await stripe_server.deliver("customer.subscription.deleted", sub | {"status": "canceled"})
    await stripe_server.deliver("checkout.session.completed", session)
    state = (await owner.get("/api/billing/subscription")).json()
    assert state["status"] == "canceled" and state["downgrade_at"] is not None
    assert state["plan"] == "free"
