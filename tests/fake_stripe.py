"""Stripe's API on 127.0.0.1: the parts frontdesk uses (customers, Checkout Sessions,
subscriptions, invoices, payment links), speaking Stripe's bracketed form bodies and JSON.

Opening a session's ``url`` stands in for the buyer paying on Stripe's page: the session
completes and the events Stripe would send are POSTed, signed with the endpoint secret
(the ``stripe`` package's own signing helper), to ``webhook_url``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from tests.serving import free_socket, serving

SECRET_KEY = "sk_test_frontdesk_0123456789"
WEBHOOK_SECRET = "whsec_frontdesk_test_secret"
_ids = itertools.count(1)
_PERIOD = 30 * 86_400


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):014d}"


def decode_form(body: str) -> dict[str, Any]:
    """``line_items[0][price]=p&metadata[a]=b`` → {"line_items": [{"price": "p"}], ...}."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = out
        for part, following in zip(parts, parts[1:], strict=False):
            child_is_list = following.isdigit()
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append([] if child_is_list else {})
                node = node[index]
            else:
                node = node.setdefault(part, [] if child_is_list else {})
        last = parts[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return out


def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET,
           timestamp: int | None = None) -> tuple[str, dict[str, str]]:
    """The body and headers Stripe would POST for ``event``."""
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id("evt"), "object": "event", "type": kind, "api_version": "2025-09-30",
            "created": int(time.time()), "livemode": False, "data": {"object": obj}}


@dataclass
class FakeStripe:
    url: str = ""
    webhook_url: str = ""             # where paying a session sends its events
    requests: list[dict] = field(default_factory=list)
    customers: dict[str, dict] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    invoices: list[dict] = field(default_factory=list)
    payment_links: list[dict] = field(default_factory=list)
    delivered: list[tuple[dict, int]] = field(default_factory=list)  # (event, our status)
    idempotent: dict[str, dict] = field(default_factory=dict)

    def member(self, phone: str, product: str, status: str = "active",
               cancel_at_period_end: bool = False) -> dict:
        """A customer of the business with a membership, as the business's Stripe holds it."""
        customer = {"id": new_id("cus"), "object": "customer", "phone": phone, "metadata": {}}
        self.customers[customer["id"]] = customer
        end = int(time.time()) + _PERIOD
        sub = {"id": new_id("sub"), "object": "subscription", "customer": customer["id"],
               "status": status, "cancel_at_period_end": cancel_at_period_end, "metadata": {},
               "items": {"object": "list", "data": [{
                   "id": new_id("si"), "object": "subscription_item",
                   "price": {"id": new_id("price"), "object": "price", "nickname": None,
                             "product": {"id": new_id("prod"), "object": "product",
                                         "name": product}},
                   "current_period_start": end - _PERIOD, "current_period_end": end}]}}
        self.subscriptions[sub["id"]] = sub
        return sub

    def posted(self, path: str) -> list[dict]:
        return [r["form"] for r in self.requests if r["method"] == "POST" and r["path"] == path]

    async def deliver(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Send one signed event to ``webhook_url``; returns the event."""
        ev = event(kind, obj)
        body, headers = signed(ev)
        async with httpx.AsyncClient() as http:
            response = await http.post(self.webhook_url, content=body, headers=headers)
        self.delivered.append((ev, response.status_code))
        return ev

    async def pay(self, session_id: str) -> None:
        """The buyer completes Checkout: the session, then what it made, reach the server."""
        session = self.sessions[session_id]
        session.update(status="complete", payment_status="paid")
        if session["mode"] == "subscription":
            sub = self._subscription(session)
            session["subscription"] = sub["id"]
            await self.deliver("checkout.session.completed", session)
            await self.deliver("customer.subscription.created", sub)
            await self.deliver("invoice.paid", self.invoice(sub, paid=True))
        else:
            if session["mode"] == "setup":
                session["setup_intent"] = new_id("seti")
            await self.deliver("checkout.session.completed", session)

    def _subscription(self, session: dict) -> dict:
        now = int(time.time())
        price = session["line_items"][0]["price"]
        sub = {"id": new_id("sub"), "object": "subscription", "customer": session["customer"],
               "status": "active", "cancel_at_period_end": False,
               "metadata": session.get("subscription_data", {}).get("metadata", {}),
               "items": {"object": "list", "data": [{
                   "id": new_id("si"), "object": "subscription_item",
                   "price": {"id": price, "object": "price"},
                   "current_period_start": now, "current_period_end": now + _PERIOD}]}}
        self.subscriptions[sub["id"]] = sub
        return sub

    def invoice(self, sub: dict, *, paid: bool) -> dict:
        item = sub["items"]["data"][0]
        inv = {"id": new_id("in"), "object": "invoice", "customer": sub["customer"],
               "number": f"FD-{next(_ids):04d}", "status": "paid" if paid else "open",
               "amount_due": 9900, "amount_paid": 9900 if paid else 0, "currency": "usd",
               "created": int(time.time()), "attempt_count": 1,
               "billing_reason": "subscription_create",
               "hosted_invoice_url": f"{self.url}/invoice", "invoice_pdf": f"{self.url}/pdf",
               "parent": {"type": "subscription_details",
                          "subscription_details": {"subscription": sub["id"],
                                                   "metadata": dict(sub["metadata"])}},
               "lines": {"object": "list", "data": [{"period": {
                   "start": item["current_period_start"],
                   "end": item["current_period_end"]}}]}}
        self.invoices.append(inv)
        return inv


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status)


@asynccontextmanager
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    state = FakeStripe()

    async def parsed(request: Request) -> dict[str, Any] | JSONResponse:
        if request.headers.get("authorization") != f"Bearer {SECRET_KEY}":
            return _error(401, "Invalid API Key provided", "authentication_error")
        form = decode_form((await request.body()).decode())
        state.requests.append({"method": request.method, "path": request.url.path,
                               "form": form or decode_form(request.url.query),
                               "idempotency_key": request.headers.get("idempotency-key"),
                               "stripe_account": request.headers.get("stripe-account")})
        return form

    async def create_customer(request: Request) -> JSONResponse:
        form = await parsed(request)
        if isinstance(form, JSONResponse):
            return form
        key = request.headers.get("idempotency-key", "")
        if key in state.idempotent:
            return JSONResponse(state.idempotent[key])
        customer = {"id": new_id("cus"), "object": "customer", "email": form.get("email"),
                    "name": form.get("name"), "metadata": form.get("metadata", {})}
        state.customers[customer["id"]] = customer
        if key:
            state.idempotent[key] = customer
        return JSONResponse(customer)

    async def update_customer(request: Request) -> JSONResponse:
        form = await parsed(request)
        if isinstance(form, JSONResponse):
            return form
        customer = state.customers.get(request.path_params["cus"])
        if customer is None:
            return _error(404, "No such customer")
        customer.update(form)
        return JSONResponse(customer)

    async def search_customers(request: Request) -> JSONResponse:
        form = await parsed(request)
        if isinstance(form, JSONResponse):
            return form
        match = re.fullmatch(r"phone:'([^']*)'", request.query_params.get("query", ""))
        if match is None:
            return _error(400, "Unsupported search query")
        data = [c for c in state.customers.values() if c.get("phone") == match.group(1)]
        return JSONResponse({"object": "search_result", "url": "/v1/customers/search",
                             "has_more": False, "data": data})

    async def list_subscriptions(request: Request) -> JSONResponse:
        form = await parsed(request)
        if isinstance(form, JSONResponse):
            return form
        customer = request.query_params.get("customer")
        data = [s for s in state.subscriptions.values() if s["customer"] == customer]
        return JSONResponse({"object": "list", "url": "/v1/subscriptions", "has_more": False,
                             "data": data})

    async def setup_intent(request: Request) -> JSONResponse:
        form = await parsed(request)
        if isinstance(form, JSONResponse):
            return form
        return JSONResponse({"id": request.path_params["seti"], "object": "setup_intent",
                             "status": "succeeded", "payment_method": "pm_card_visa"})

    async def create_session(request: Request) -> JSONResponse:
        form = await parsed(request)
        if isinstance(form, JSONResponse):
            return form
        mode = form.get("mode")
        if mode not in ("payment", "subscription", "setup"):
            return _error(400, "Invalid mode")
        if mode != "setup" and not form.get("line_items"):
            return _error(400, "line_items is required in payment and subscription mode")
        if form.get("customer") and form["customer"] not in state.customers:
            return _error(404, f"No such customer: '{form['customer']}'")
        sid = new_id("cs_test")
        session = {"id": sid, "object": "checkout.session", "mode": mode,
                   "url": f"{state.url}/pay/{sid}", "status": "open",
                   "payment_status": "unpaid", "customer": form.get("customer"),
                   "client_reference_id": form.get("client_reference_id"),
                   "metadata": form.get("metadata", {}), "subscription": None,
                   "line_items": form.get("line_items", []),
                   "subscription_data": form.get("subscription_data", {}),
                   "success_url": form.get("success_url"), "amount_total": None}
        state.sessions[sid] = session
        return JSONResponse({k: v for k, v in session.items()
                             if k not in ("line_items", "subscription_data")})

    async def pay(request: Request) -> HTMLResponse:
        sid = request.path_params["sid"]
        if sid not in state.sessions:
            return HTMLResponse("no such session", 404)
        await state.pay(sid)
        return HTMLResponse("<p>Payment complete.</p>")

    async def subscription(request: Request) -> JSONResponse:
        form = await parsed(request)
        if isinstance(form, JSONResponse):
            return form
        sub = state.subscriptions.get(request.path_params["sub"])
        if sub is None:
            return _error(404, "No such subscription")
        if request.method == "POST":
            if "cancel_at_period_end" in form:
                sub["cancel_at_period_end"] = form["cancel_at_period_end"] == "true"
            for change in form.get("items", []):
                item = next(i for i in sub["items"]["data"] if i["id"] == change.get("id"))
                item["price"] = {"id": change["price"], "object": "price"}
            sub["metadata"].update(form.get("metadata", {}))
            if state.webhook_url:
                await state.deliver("customer.subscription.updated", sub)
        return JSONResponse(sub)

    async def list_invoices(request: Request) -> JSONResponse:
        form = await parsed(request)
        if isinstance(form, JSONResponse):
            return form
        customer = request.query_params.get("customer")
        data = [i for i in reversed(state.invoices) if i["customer"] == customer]
        return JSONResponse({"object": "list", "url": "/v1/invoices", "has_more": False,
                             "data": data[:int(request.query_params.get("limit", 10))]})

    async def create_payment_link(request: Request) -> JSONResponse:
        form = await parsed(request)
        if isinstance(form, JSONResponse):
            return form
        if not form.get("line_items"):
            return _error(400, "Missing required param: line_items.")
        link = {"id": new_id("plink"), "object": "payment_link", "active": True,
                "url": f"{state.url}/link/{next(_ids)}", "metadata": form.get("metadata", {}),
                "line_items": form["line_items"]}
        state.payment_links.append(link)
        return JSONResponse({k: v for k, v in link.items() if k != "line_items"})

    app = Starlette(routes=[
        Route("/v1/customers", create_customer, methods=["POST"]),
        Route("/v1/customers/search", search_customers),
        Route("/v1/customers/{cus}", update_customer, methods=["POST"]),
        Route("/v1/subscriptions", list_subscriptions),
        Route("/v1/setup_intents/{seti}", setup_intent),
        Route("/v1/checkout/sessions", create_session, methods=["POST"]),
        Route("/pay/{sid}", pay),
        Route("/v1/subscriptions/{sub}", subscription, methods=["GET", "POST"]),
        Route("/v1/invoices", list_invoices),
        Route("/v1/payment_links", create_payment_link, methods=["POST"]),
    ])
    sock = free_socket()
    async with serving(app, sock):
        state.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield state


async def _serve_forever(webhook_url: str) -> None:
    async with fake_stripe() as state:
        state.webhook_url = webhook_url
        print(f"fake Stripe at {state.url} (STRIPE_API_BASE), secret key {SECRET_KEY},"
              f" webhook secret {WEBHOOK_SECRET}, events to {webhook_url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    # For trying billing by hand: python -m tests.fake_stripe http://127.0.0.1:8000/api/stripe/webhook
    import sys

    asyncio.run(_serve_forever(sys.argv[1] if len(sys.argv) > 1
                               else "http://127.0.0.1:8000/api/stripe/webhook"))
