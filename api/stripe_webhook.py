"""POST /api/stripe/webhook (also /api/webhooks/stripe): what Stripe says happened.

The raw body's ``Stripe-Signature`` is verified (300 s tolerance) before anything is read.
Each event is applied in one transaction with its ``stripe_events`` row, so a replay, a
retry or a concurrent duplicate delivery changes nothing more; events may come in any order.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import stripe
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.errors import ApiError, responses
from api.plans import PACKS, PAID_PLANS, PLANS, plan_for_price
from db import billing, organizations, payments, usage
from frontdesk.settings import Settings
from tools.stripe_api import error_message

log = logging.getLogger("frontdesk.billing")

router = APIRouter(tags=["billing"])

TOLERANCE_SECONDS = 300
_ENDED = ("canceled", "incomplete_expired", "unpaid")


class WebhookOut(BaseModel):
    received: bool = True
    duplicate: bool = Field(False, description="This event was handled before; nothing done")
    outcome: str | None = Field(None, examples=["credited 30000 s to client 4"])


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else None


class _Handler:
    """Applies one event inside its transaction; returns (organisation, outcome)."""

    def __init__(self, conn: asyncpg.Connection, settings: Settings,
                 client: stripe.StripeClient | None) -> None:
        self.conn = conn
        self.settings = settings
        self.client = client

    async def _org(self, obj: dict, *, customer: str | None = None,
                   subscription: str | None = None) -> int | None:
        org = await billing.organization_of(self.conn, customer_id=customer,
                                            subscription_id=subscription)
        if org is None:  # the metadata this server put on the object
            org = _int((obj.get("metadata") or {}).get("organization_id"))
        if org is not None and await organizations.get(self.conn, org) is None:
            return None
        return org

    def _grace_end(self) -> datetime:
        return datetime.now(UTC) + timedelta(days=self.settings.billing_grace_days)

    async def checkout_completed(self, obj: dict) -> tuple[int | None, str]:
        meta = obj.get("metadata") or {}
        if meta.get("kind") == "caller_payment":
            return await self._caller_paid(obj)
        org = await self._org(obj, customer=obj.get("customer"))
        if org is None:
            org = _int(obj.get("client_reference_id"))
            if org is None or await organizations.get(self.conn, org) is None:
                return None, "ignored: not an organisation of this server"
        if obj.get("mode") == "payment" and meta.get("kind") == "top_up":
            if obj.get("payment_status") != "paid":
                return org, "awaiting payment"  # checkout.session.async_payment_succeeded
            return org, await self._credit_pack(org, meta, str(obj.get("id")))
        if obj.get("mode") == "subscription":
            plan = meta.get("plan")
            if plan not in PAID_PLANS:
                return org, "ignored: no plan in the session"
            client = _int(meta.get("client_id"))
            if client is not None and not await billing.owns_client(self.conn, org, client):
                client = None
            account = await billing.account(self.conn, org, lock=True)
            # Events come in any order: what the subscription's own events already said
            # about it (say, that it was deleted) is not undone by its checkout arriving late.
            known = account is not None and account.subscription_status is not None \
                and account.stripe_subscription_id == obj.get("subscription")
            fields: dict[str, Any] = {
                "stripe_customer_id": obj.get("customer"),
                "stripe_subscription_id": obj.get("subscription"),
                "subscription_plan": plan, "grant_client_id": client}
            if not known:
                fields |= {"subscription_status": "active", "cancel_at_period_end": False,
                           "downgrade_at": None}
            await billing.update(self.conn, org, **fields)
            if not known or account.subscription_status in ("active", "trialing"):
                await billing.set_plan(self.conn, org, plan)
            return org, f"subscribed to {plan}"
        if obj.get("mode") == "setup" and obj.get("setup_intent") and obj.get("customer"):
            return org, await self._default_payment_method(obj)
        return org, f"ignored: {obj.get('mode')} session"

    async def _default_payment_method(self, session: dict) -> str:
        """The card collected in setup mode pays the next invoices. A Stripe failure fails
        the delivery (nothing recorded), so Stripe sends the event again."""
        if self.client is None:
            return "ignored: Stripe is not configured"
        intent = await self.client.v1.setup_intents.retrieve_async(session["setup_intent"])
        method = intent.to_dict().get("payment_method")
        if not method:
            return "ignored: no payment method collected"
        await self.client.v1.customers.update_async(
            session["customer"], {"invoice_settings": {"default_payment_method": method}})
        return f"default payment method {method}"

    async def _caller_paid(self, obj: dict) -> tuple[int | None, str]:
        """A caller paid the link the agent sent (on the server's or a connected account)."""
        if obj.get("payment_status") != "paid":
            return None, "awaiting payment"
        paid = await payments.mark_paid(self.conn, str(obj.get("id")))
        if paid is None:
            return None, "ignored: not an open payment of this server"
        org = await self.conn.fetchval("SELECT organization_id FROM clients WHERE id = $1",
                                       paid.client_id)
        return org, f"payment {paid.id} paid"

    async def _credit_pack(self, org: int, meta: dict, session_id: str) -> str:
        pack = PACKS.get(meta.get("pack", ""))
        client = _int(meta.get("client_id"))
        if pack is None or client is None or not await billing.owns_client(self.conn, org,
                                                                          client):
            return "ignored: no pack or client of this organisation"
        # checkout.session.completed and ...async_payment_succeeded name the same session.
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", session_id)
        if await billing.credited(self.conn, session_id):
            return "already credited"
        await usage.credit(self.conn, client_id=client, seconds=pack.seconds,
                           reason="stripe_topup", note=session_id)
        return f"credited {pack.seconds} s to client {client}"

    async def invoice_paid(self, obj: dict) -> tuple[int | None, str]:
        details = (obj.get("parent") or {}).get("subscription_details") or {}
        sub = details.get("subscription") or obj.get("subscription")
        # The subscription's metadata as it was when invoiced (this server set it at
        # checkout): an invoice.paid that arrives before checkout.session.completed still
        # knows its plan and client, since Stripe does not keep events in order.
        meta = details.get("metadata") or {}
        org = await self._org({"metadata": meta}, customer=obj.get("customer"),
                              subscription=sub)
        if org is None:
            return None, "ignored: unknown customer"
        account = await billing.account(self.conn, org, lock=True)
        plan = account.subscription_plan if account else None
        if plan is None and meta.get("plan") in PAID_PLANS:
            plan = meta["plan"]
        if plan is None:
            return org, "ignored: no subscription plan"
        preferred = account.grant_client_id if account and account.grant_client_id \
            else _int(meta.get("client_id"))
        lines = (obj.get("lines") or {}).get("data") or [{}]
        period = lines[0].get("period") or {}
        await billing.update(self.conn, org, subscription_status="active", downgrade_at=None,
                             subscription_plan=plan, current_period_start=_time(
                                 period.get("start")),
                             current_period_end=_time(period.get("end")),
                             **({"stripe_subscription_id": sub} if sub else {}),
                             **({"stripe_customer_id": obj["customer"]}
                                if obj.get("customer") else {}))
        await billing.set_plan(self.conn, org, plan)
        invoice_id = str(obj.get("id"))
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", invoice_id)
        if await billing.credited(self.conn, invoice_id):
            return org, "already credited"
        client = await billing.grant_client(self.conn, org, preferred)
        seconds = PLANS[plan].included_minutes * 60
        if client is None or seconds <= 0:
            return org, f"{plan} renewed; no client to credit"
        await usage.credit(self.conn, client_id=client, seconds=seconds, reason="plan_grant",
                           note=invoice_id)
        return org, f"credited {seconds} s to client {client}"

    async def payment_failed(self, obj: dict) -> tuple[int | None, str]:
        sub = ((obj.get("parent") or {}).get("subscription_details") or {}).get(
            "subscription") or obj.get("subscription")
        org = await self._org(obj, customer=obj.get("customer"), subscription=sub)
        if org is None:
            return None, "ignored: unknown customer"
        until = await self._start_grace(org, "past_due")
        return org, f"payment failed; plan kept until {until.isoformat()}"

    async def _start_grace(self, org: int, status: str) -> datetime:
        account = await billing.account(self.conn, org, lock=True)
        until = account.downgrade_at if account and account.downgrade_at else self._grace_end()
        await billing.update(self.conn, org, subscription_status=status, downgrade_at=until)
        return until

    async def subscription_updated(self, obj: dict) -> tuple[int | None, str]:
        org = await self._org(obj, customer=obj.get("customer"), subscription=obj.get("id"))
        if org is None:
            return None, "ignored: unknown customer"
        items = (obj.get("items") or {}).get("data") or [{}]
        plan = (obj.get("metadata") or {}).get("plan")
        if plan not in PAID_PLANS:
            plan = plan_for_price(self.settings, (items[0].get("price") or {}).get("id"))
        status = obj.get("status")
        await billing.update(
            self.conn, org, stripe_subscription_id=obj.get("id"),
            stripe_customer_id=obj.get("customer"), subscription_status=status,
            cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
            current_period_start=_time(items[0].get("current_period_start")),
            current_period_end=_time(items[0].get("current_period_end")),
            **({"subscription_plan": plan} if plan else {}))
        if status in ("active", "trialing") and plan:
            await billing.update(self.conn, org, downgrade_at=None)
            await billing.set_plan(self.conn, org, plan)
            return org, f"on {plan} ({status})"
        if status == "past_due" or status in _ENDED:
            until = await self._start_grace(org, status)
            return org, f"{status}; plan kept until {until.isoformat()}"
        return org, f"subscription {status}"

    async def subscription_deleted(self, obj: dict) -> tuple[int | None, str]:
        org = await self._org(obj, customer=obj.get("customer"), subscription=obj.get("id"))
        if org is None:
            return None, "ignored: unknown customer"
        until = await self._start_grace(org, "canceled")
        await billing.update(self.conn, org, cancel_at_period_end=False,
                             **({"stripe_subscription_id": obj["id"]} if obj.get("id") else {}))
        return org, f"cancelled; plan kept until {until.isoformat()}"


_HANDLERS = {
    "checkout.session.completed": _Handler.checkout_completed,
    "checkout.session.async_payment_succeeded": _Handler.checkout_completed,
    "invoice.paid": _Handler.invoice_paid,
    "invoice.payment_failed": _Handler.payment_failed,
    "customer.subscription.created": _Handler.subscription_updated,
    "customer.subscription.updated": _Handler.subscription_updated,
    "customer.subscription.deleted": _Handler.subscription_deleted,
}


@router.get("/payments/thanks", response_class=HTMLResponse, include_in_schema=False)
async def payment_thanks() -> HTMLResponse:
    """Where Checkout sends a caller after paying the agent's link."""
    return HTMLResponse("<!doctype html><title>Thank you</title><p>Thank you: your payment"
                        " was received.</p>")


@router.post("/stripe/webhook", response_model=WebhookOut,
             summary="Stripe's events: payments, invoices, subscriptions (signed by Stripe)",
             responses=responses(400, 413, 502, 503))
@router.post("/webhooks/stripe", response_model=WebhookOut, include_in_schema=False)
async def stripe_webhook(request: Request) -> WebhookOut:
    state = request.state.api
    secret = state.settings.secret("stripe_webhook_secret")
    if not secret:
        raise ApiError(503, "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)",
                       "billing_not_configured")
    signature = request.headers.get("stripe-signature")
    if not signature:
        raise ApiError(400, "missing Stripe-Signature header", "missing_signature")
    payload = await request.body()
    try:
        stripe.Webhook.construct_event(payload, signature, secret, tolerance=TOLERANCE_SECONDS)
        event = json.loads(payload)
        event_id, kind, obj = str(event["id"]), str(event["type"]), event["data"]["object"]
        if not isinstance(obj, dict):
            raise TypeError("data.object is not an object")
    except stripe.SignatureVerificationError:
        raise ApiError(400, "Stripe-Signature does not match this body, or is older than"
                            f" {TOLERANCE_SECONDS} s", "invalid_signature") from None
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "not a Stripe event: expected JSON with id, type and"
                            " data.object", "invalid_event") from None
    async with state.pool.acquire() as conn, conn.transaction():
        if not await billing.claim_event(conn, event_id, kind):
            return WebhookOut(duplicate=True, outcome=await billing.event_outcome(conn, event_id))
        handler = _HANDLERS.get(kind)
        try:
            org, outcome = (None, "ignored") if handler is None else \
                await handler(_Handler(conn, state.settings, state.stripe()), obj)
        except stripe.StripeError as exc:  # rolled back: Stripe retries the delivery
            raise ApiError(502, f"Stripe refused: {error_message(exc)}", "stripe_error") from None
        await billing.finish_event(conn, event_id, organization_id=org, outcome=outcome)
        await billing.apply_due_downgrades(conn)  # a grace of 0 days takes effect now
    log.info("stripe event %s (%s): %s", event_id, kind, outcome)
    return WebhookOut(outcome=outcome)
