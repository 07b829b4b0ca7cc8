"""/api/billing: plans, usage, the subscription, top-ups and invoices, through Stripe.

Money moves only in Stripe's Checkout: these routes hand out Checkout Session URLs, and the
seconds arrive when Stripe's signed webhook says the payment went through
(api/stripe_webhook.py). What Stripe told us is kept in ``billing_accounts``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import stripe
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.auth import Principal, require
from api.errors import ApiError, responses
from api.plans import PACKS, PLANS, api_requests_per_hour
from api.validation import Input
from db import billing, organizations
from tools.stripe_api import error_message

router = APIRouter(prefix="/billing", tags=["billing"])

Read = Annotated[Principal, Depends(require("read:billing"))]
Write = Annotated[Principal, Depends(require("write:billing"))]

PaidPlan = Literal["pro", "enterprise"]
PackName = Literal["minutes_100", "minutes_500", "minutes_2000"]
_STRIPE_ERRORS = responses(401, 403, 409, 422, 429, 502, 503)


class PlanOut(BaseModel):
    name: str = Field(examples=["pro"])
    title: str = Field(examples=["Pro"])
    included_minutes: int = Field(description="Added to the balance each paid month",
                                  examples=[1000])
    api_requests_per_hour: int | None = Field(description="For API keys; null: unlimited",
                                              examples=[1000])
    available: bool = Field(description="Whether this server can sell it (price configured)")


class PackOut(BaseModel):
    name: str = Field(examples=["minutes_500"])
    minutes: int = Field(examples=[500])
    price_cents: int = Field(examples=[6000])
    currency: str = Field(examples=["usd"])


class CatalogOut(BaseModel):
    plans: list[PlanOut]
    packs: list[PackOut]


class UsageOut(BaseModel):
    plan: str = Field(examples=["pro"])
    minutes_used: float = Field(description="Talk time of this period's calls", examples=[412.5])
    minutes_limit: int = Field(description="The plan's included minutes", examples=[1000])
    percentage: float | None = Field(description="minutes_used / minutes_limit × 100; null on"
                                     " a plan without included minutes", examples=[41.3])
    period_start: datetime
    resets_at: datetime = Field(description="When the period (and its count) starts again")
    balance_minutes: float = Field(description="Prepaid talk time left across all clients",
                                   examples=[587.5])


class SubscriptionOut(BaseModel):
    plan: str = Field(description="The plan in force", examples=["pro"])
    status: str | None = Field(description="Stripe's subscription status; null: none",
                               examples=["active"])
    subscription_plan: str | None = Field(examples=["pro"])
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    downgrade_at: datetime | None = Field(description="When the plan falls back to free after"
                                          " a failed payment or a cancellation")
    grant_client_id: int | None = Field(description="The client receiving each period's"
                                        " included minutes")


class CheckoutOut(BaseModel):
    url: str = Field(description="Stripe Checkout: send the browser here")
    session_id: str = Field(examples=["cs_test_a1b2"])


class PlanCheckoutIn(Input):
    plan: PaidPlan = Field(examples=["pro"])
    client_id: int | None = Field(None, ge=1, description="The client receiving each period's"
                                  " minutes (default: the organisation's first)")


class UpgradeIn(Input):
    plan: PaidPlan = Field(examples=["enterprise"])


class TopUpCheckoutIn(Input):
    client_id: int = Field(ge=1, examples=[1])
    pack: PackName = Field(examples=["minutes_500"])


class InvoiceOut(BaseModel):
    id: str = Field(examples=["in_1PqR"])
    number: str | None = Field(examples=["FD-0001"])
    status: str | None
    amount_due: int
    amount_paid: int
    currency: str
    created: datetime
    hosted_invoice_url: str | None
    invoice_pdf: str | None


def stripe_client(request: Request) -> stripe.StripeClient:
    client = request.state.api.stripe()
    if client is None:
        raise ApiError(503, "billing is not configured on this server (STRIPE_SECRET_KEY)",
                       "billing_not_configured")
    return client


def upstream(exc: stripe.StripeError) -> ApiError:
    if isinstance(exc, stripe.APIConnectionError):
        return ApiError(503, "Stripe could not be reached; try again", "stripe_unreachable")
    return ApiError(502, f"Stripe refused: {error_message(exc)}", "stripe_error")


def _return_url(request: Request, outcome: str) -> str:
    base = request.state.api.settings.public_url
    suffix = "&session_id={CHECKOUT_SESSION_ID}" if outcome == "success" else ""
    return f"{base}/console/billing?checkout={outcome}{suffix}"


async def _customer(request: Request, org_id: int, principal: Principal) -> str:
    """The organisation's Stripe customer, created on first use (once: the idempotency key
    makes a concurrent second request get the same customer)."""
    pool = request.state.api.pool
    account = await billing.account(pool, org_id)
    if account is not None and account.stripe_customer_id:
        return account.stripe_customer_id
    org = await organizations.get(pool, org_id)
    try:
        customer = await stripe_client(request).v1.customers.create_async(
            {"email": principal.email, "name": org.name if org else principal.email,
             "metadata": {"organization_id": str(org_id)}},
            {"idempotency_key": f"frontdesk-customer-{org_id}"})
    except stripe.StripeError as exc:
        raise upstream(exc) from None
    await billing.update(pool, org_id, stripe_customer_id=customer.id)
    return customer.id


async def _checkout(request: Request, params: dict) -> CheckoutOut:
    """A Checkout Session that comes back to the console's billing page."""
    try:
        session = await stripe_client(request).v1.checkout.sessions.create_async(
            params | {"success_url": _return_url(request, "success"),
                      "cancel_url": _return_url(request, "cancelled")})
    except stripe.StripeError as exc:
        raise upstream(exc) from None
    return CheckoutOut(url=session.url, session_id=session.id)


def _month(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + timedelta(days=32)).replace(day=1)


@router.get("/plans", response_model=CatalogOut, summary="Plans and top-up packs for sale",
            responses=responses(401, 403, 429))
async def catalog(request: Request, _: Read) -> CatalogOut:
    settings = request.state.api.settings
    plans = [PlanOut(name=p.name, title=p.title, included_minutes=p.included_minutes,
                     api_requests_per_hour=api_requests_per_hour(settings, p.name),
                     available=p.price_setting is None
                     or bool(getattr(settings, p.price_setting)))
             for p in PLANS.values()]
    packs = [PackOut(name=p.name, minutes=p.minutes, price_cents=p.price_cents,
                     currency=settings.stripe_currency) for p in PACKS.values()]
    return CatalogOut(plans=plans, packs=packs)


@router.get("/usage", response_model=UsageOut, summary="Minutes used this period",
            responses=responses(401, 403, 429))
async def usage(request: Request, principal: Read) -> UsageOut:
    pool = request.state.api.pool
    org_id = principal.organization_id
    org = await organizations.get(pool, org_id)
    account = await billing.account(pool, org_id)
    now = datetime.now(UTC)
    if account and account.current_period_start and account.current_period_end \
            and account.current_period_end > now:
        start, end = account.current_period_start, account.current_period_end
    else:  # no paid period running: the calendar month (UTC)
        start, end = _month(now)
    plan = PLANS[org.plan if org else "free"]
    used = await billing.seconds_used(pool, org_id, start) / 60
    limit = plan.included_minutes
    return UsageOut(plan=plan.name, minutes_used=round(used, 1), minutes_limit=limit,
                    percentage=round(100 * used / limit, 1) if limit else None,
                    period_start=start, resets_at=end,
                    balance_minutes=round(await billing.balance_seconds(pool, org_id) / 60, 1))


async def _subscription_out(request: Request, org_id: int) -> SubscriptionOut:
    pool = request.state.api.pool
    org = await organizations.get(pool, org_id)
    account = await billing.account(pool, org_id)
    return SubscriptionOut(
        plan=org.plan if org else "free",
        status=account.subscription_status if account else None,
        subscription_plan=account.subscription_plan if account else None,
        current_period_start=account.current_period_start if account else None,
        current_period_end=account.current_period_end if account else None,
        cancel_at_period_end=account.cancel_at_period_end if account else False,
        downgrade_at=account.downgrade_at if account else None,
        grant_client_id=account.grant_client_id if account else None)


@router.get("/subscription", response_model=SubscriptionOut, summary="The plan in force",
            responses=responses(401, 403, 429))
async def subscription(request: Request, principal: Read) -> SubscriptionOut:
    return await _subscription_out(request, principal.organization_id)


def _price(request: Request, plan: str) -> str:
    setting = PLANS[plan].price_setting
    price = getattr(request.state.api.settings, setting) if setting else None
    if not price:
        raise ApiError(503, f"the {plan} plan has no Stripe price on this server"
                            f" ({setting.upper() if setting else ''})", "plan_not_configured")
    return price


async def _live_subscription(request: Request, org_id: int) -> str:
    account = await billing.account(request.state.api.pool, org_id)
    if account is None or not account.stripe_subscription_id \
            or account.subscription_status in (None, "canceled", "incomplete_expired"):
        raise ApiError(409, "there is no subscription to change: start one with"
                            " POST /api/billing/subscription/checkout", "no_subscription")
    return account.stripe_subscription_id


@router.post("/subscription/checkout", response_model=CheckoutOut, status_code=201,
             summary="Start a subscription: a Stripe Checkout Session URL",
             responses=_STRIPE_ERRORS | responses(404))
async def subscription_checkout(body: PlanCheckoutIn, request: Request,
                                principal: Write) -> CheckoutOut:
    pool = request.state.api.pool
    org_id = principal.organization_id
    if body.client_id is not None and not await billing.owns_client(pool, org_id,
                                                                    body.client_id):
        raise ApiError(404, "client not found")
    account = await billing.account(pool, org_id)
    if account and account.stripe_subscription_id and account.subscription_status in (
            "active", "trialing", "past_due"):
        raise ApiError(409, "a subscription is running: change it with"
                            " POST /api/billing/subscription/upgrade", "subscription_exists")
    price = _price(request, body.plan)
    customer = await _customer(request, org_id, principal)
    metadata = {"organization_id": str(org_id), "plan": body.plan,
                "client_id": str(body.client_id or "")}
    return await _checkout(request, {
        "mode": "subscription", "customer": customer,
        "line_items": [{"price": price, "quantity": 1}],
        "client_reference_id": str(org_id), "metadata": metadata,
        "subscription_data": {"metadata": metadata}})


@router.post("/subscription/upgrade", response_model=SubscriptionOut,
             summary="Move the running subscription to another plan (prorated)",
             responses=_STRIPE_ERRORS)
async def upgrade(body: UpgradeIn, request: Request, principal: Write) -> SubscriptionOut:
    org_id = principal.organization_id
    sub_id = await _live_subscription(request, org_id)
    price = _price(request, body.plan)
    client = stripe_client(request)
    try:
        current = (await client.v1.subscriptions.retrieve_async(sub_id)).to_dict()
        item = current["items"]["data"][0]["id"]
        await client.v1.subscriptions.update_async(sub_id, {
            "items": [{"id": item, "price": price}], "proration_behavior": "create_prorations",
            "cancel_at_period_end": False,
            "metadata": {"organization_id": str(org_id), "plan": body.plan}})
    except stripe.StripeError as exc:
        raise upstream(exc) from None
    # The plan itself changes when Stripe's customer.subscription.updated arrives.
    return await _subscription_out(request, org_id)


@router.post("/subscription/cancel", response_model=SubscriptionOut,
             summary="Cancel at the end of the paid period", responses=_STRIPE_ERRORS)
async def cancel(request: Request, principal: Write) -> SubscriptionOut:
    org_id = principal.organization_id
    sub_id = await _live_subscription(request, org_id)
    try:
        await stripe_client(request).v1.subscriptions.update_async(
            sub_id, {"cancel_at_period_end": True})
    except stripe.StripeError as exc:
        raise upstream(exc) from None
    await billing.update(request.state.api.pool, org_id, cancel_at_period_end=True)
    return await _subscription_out(request, org_id)


@router.post("/top-ups/checkout", response_model=CheckoutOut, status_code=201,
             summary="Buy a pack of minutes for one client: a Stripe Checkout Session URL",
             responses=_STRIPE_ERRORS | responses(404))
async def top_up_checkout(body: TopUpCheckoutIn, request: Request,
                          principal: Write) -> CheckoutOut:
    pool = request.state.api.pool
    org_id = principal.organization_id
    if not await billing.owns_client(pool, org_id, body.client_id):
        raise ApiError(404, "client not found")
    stripe_client(request)  # 503 before a customer is made for nothing
    pack = PACKS[body.pack]
    customer = await _customer(request, org_id, principal)
    metadata = {"organization_id": str(org_id), "client_id": str(body.client_id),
                "pack": pack.name, "kind": "top_up"}
    return await _checkout(request, {
        "mode": "payment", "customer": customer,
        "line_items": [{"quantity": 1, "price_data": {
            "currency": request.state.api.settings.stripe_currency,
            "unit_amount": pack.price_cents,
            "product_data": {"name": f"{pack.minutes} minutes of talk time"}}}],
        "client_reference_id": str(org_id), "metadata": metadata,
        "payment_intent_data": {"metadata": metadata}})


@router.post("/payment-method", response_model=CheckoutOut, status_code=201,
             summary="Change the card: a Stripe Checkout Session URL in setup mode",
             responses=_STRIPE_ERRORS)
async def payment_method(request: Request, principal: Write) -> CheckoutOut:
    org_id = principal.organization_id
    stripe_client(request)  # 503 before a customer is made for nothing
    customer = await _customer(request, org_id, principal)
    return await _checkout(request, {
        "mode": "setup", "customer": customer, "currency":
        request.state.api.settings.stripe_currency,
        "metadata": {"organization_id": str(org_id), "kind": "payment_method"}})


@router.get("/invoices", response_model=list[InvoiceOut], summary="Invoices, newest first",
            responses=_STRIPE_ERRORS)
async def invoices(request: Request, principal: Read,
                   limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[InvoiceOut]:
    org_id = principal.organization_id
    account = await billing.account(request.state.api.pool, org_id)
    if account is None or not account.stripe_customer_id:
        return []
    try:
        page = await stripe_client(request).v1.invoices.list_async(
            {"customer": account.stripe_customer_id, "limit": limit})
    except stripe.StripeError as exc:
        raise upstream(exc) from None
    return [_invoice(i.to_dict()) for i in page.data]


def _invoice(i: dict) -> InvoiceOut:
    return InvoiceOut(id=i["id"], number=i.get("number"), status=i.get("status"),
                      amount_due=i.get("amount_due") or 0, amount_paid=i.get("amount_paid") or 0,
                      currency=i.get("currency") or "",
                      created=datetime.fromtimestamp(i.get("created") or 0, UTC),
                      hosted_invoice_url=i.get("hosted_invoice_url"),
                      invoice_pdf=i.get("invoice_pdf"))
