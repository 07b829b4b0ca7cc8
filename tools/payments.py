"""The agent's create_payment and get_subscription, through Stripe.

create_payment makes a Stripe Checkout link for a deposit or a fee and texts it to the
caller when the line can text; otherwise the office sends it. get_subscription reads the
caller's own membership (found by the number they call from, never a number they say).
A client's ``stripe_account`` setting (acct_...) sends both to the business's connected
Stripe account; without it they use the server's. Without Stripe configured both say so,
and the agent tells the caller it cannot take payments on this line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import stripe

from db import payments, twilio_accounts
from tools import breaker as breakers
from tools.calendar import ToolError
from tools.context import ToolContext
from tools.messaging import send_sms
from tools.stripe_api import is_failure, shared_client

MAX_PER_CALL = 3
MAX_DESCRIPTION = 120
DEFAULT_MAX_AMOUNT = 500.0   # the client's payment_max_amount setting overrides it
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
NO_PAYMENTS = "payments cannot be taken on this line"
UNAVAILABLE = "the payment system is unavailable right now"


def _stripe(ctx: ToolContext) -> tuple[stripe.StripeClient, dict[str, str]] | None:
    client = shared_client(ctx.settings) if ctx.settings is not None else None
    if client is None:
        return None
    account = ctx.client.settings.get("stripe_account")
    options = {"stripe_account": account} if isinstance(account, str) \
        and account.startswith("acct_") else {}
    return client, options


def _breaker(ctx: ToolContext) -> breakers.Breaker:
    account = ctx.client.settings.get("stripe_account") or "server"
    return breakers.shared.get(f"stripe:{account}")


def _cents(amount: Any, maximum: float) -> int:
    try:
        value = Decimal(str(amount).strip().lstrip("$€£").replace(",", ""))
    except InvalidOperation:
        raise ToolError("amount must be a number such as 25 or 25.50") from None
    if not value.is_finite() or not Decimal("0.5") <= value <= Decimal(str(maximum)):
        raise ToolError(f"amount must be between 0.50 and {maximum:.2f}")
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def _can_text(ctx: ToolContext) -> bool:
    """Whether the line has a Twilio account to text from (the organisation's or the
    server's); the text itself goes out on the job queue."""
    if ctx.settings is not None and ctx.settings.twilio_account_sid \
            and ctx.settings.secret("twilio_auth_token"):
        return True
    return await twilio_accounts.get(ctx.pool, ctx.client.organization_id) is not None


async def create_payment(ctx: ToolContext, amount: Any, description: str) -> dict[str, Any]:
    text = " ".join(description.split()) if isinstance(description, str) else ""
    if not 1 <= len(text) <= MAX_DESCRIPTION:
        raise ToolError(f"description must be 1-{MAX_DESCRIPTION} characters")
    maximum = ctx.client.settings.get("payment_max_amount", DEFAULT_MAX_AMOUNT)
    cents = _cents(amount, float(maximum))
    found = _stripe(ctx)
    if found is None or ctx.settings is None:
        return {"created": False, "reason": NO_PAYMENTS}
    made = await payments.count_for_conversation(ctx.pool, ctx.conversation_id)
    if made >= MAX_PER_CALL:
        return {"created": False, "reason": "enough payment links were sent on this call"}
    client, options = found
    currency = ctx.settings.stripe_currency
    metadata = {"kind": "caller_payment", "client_id": str(ctx.client.id),
                "conversation_id": str(ctx.conversation_id or "")}
    request = {
        "mode": "payment", "metadata": metadata, "payment_intent_data": {"metadata": metadata},
        "line_items": [{"quantity": 1, "price_data": {
            "currency": currency, "unit_amount": cents,
            "product_data": {"name": f"{ctx.client.name}: {text}"}}}],
        "success_url": f"{ctx.settings.public_url}/api/payments/thanks"}
    # The same link for a retried tool call, a new one for the call's next payment.
    idempotency = f"frontdesk-payment-{ctx.client.id}-{ctx.conversation_id}-{made}"
    try:
        session = await _breaker(ctx).call(
            lambda: client.v1.checkout.sessions.create_async(
                request, {"idempotency_key": idempotency, **options}),
            is_failure=is_failure)
    except (stripe.StripeError, breakers.BreakerOpen):
        return {"created": False, "reason": UNAVAILABLE}
    spoken = f"{Decimal(cents) / 100:.2f} {currency.upper()}"
    texted = False
    if await _can_text(ctx):
        sent = await send_sms(ctx, f"{ctx.client.name}: pay {spoken} for {text} here"
                                   f" (valid 24 hours): {session.url}")
        texted = bool(sent.get("sent"))
    await payments.insert(ctx.pool, client_id=ctx.client.id,
                          conversation_id=ctx.conversation_id, amount_cents=cents,
                          currency=currency, description=text, caller_phone=ctx.caller_phone,
                          stripe_session_id=session.id, url=session.url, texted=texted)
    if texted:
        return {"created": True, "amount": spoken, "texted": True,
                "tell_caller": "the payment link is on its way by text message"}
    return {"created": True, "amount": spoken, "texted": False,
            "tell_caller": "we'll send you the payment link"}


async def get_subscription(ctx: ToolContext) -> dict[str, Any]:
    found = _stripe(ctx)
    if found is None:
        return {"found": False, "reason": "memberships cannot be looked up on this line"}
    if not _E164.match(ctx.caller_phone or ""):
        return {"found": False, "reason": "the number you are calling from is hidden"}
    client, options = found
    breaker = _breaker(ctx)
    try:
        customers = await breaker.call(lambda: client.v1.customers.search_async(
            {"query": f"phone:'{ctx.caller_phone}'", "limit": 1}, options),
            is_failure=is_failure)
        if not customers.data:
            return {"found": False,
                    "reason": "no membership under the number you are calling from"}
        subs = await breaker.call(lambda: client.v1.subscriptions.list_async(
            {"customer": customers.data[0].id, "status": "all", "limit": 5,
             "expand": ["data.items.data.price.product"]}, options), is_failure=is_failure)
    except (stripe.StripeError, breakers.BreakerOpen):
        return {"found": False, "reason": "memberships cannot be looked up right now"}
    rows = [s.to_dict() for s in subs.data]
    if not rows:
        return {"found": False, "reason": "no membership under the number you are calling from"}
    live = [s for s in rows if s.get("status") not in ("canceled", "incomplete_expired")]
    sub = (live or rows)[0]
    item = ((sub.get("items") or {}).get("data") or [{}])[0]
    price = item.get("price") or {}
    product = price.get("product")
    name = (product.get("name") if isinstance(product, dict) else None) \
        or price.get("nickname") or "membership"
    end = item.get("current_period_end")
    return {"found": True, "membership": name, "status": sub.get("status"),
            "renews_on" if not sub.get("cancel_at_period_end") else "ends_on":
            datetime.fromtimestamp(end, UTC).date().isoformat() if end else None}
