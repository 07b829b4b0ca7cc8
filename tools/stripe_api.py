"""Stripe through its official SDK: one client per process, its API base from
configuration (tests and a Stripe-compatible mock stand in on 127.0.0.1)."""

from __future__ import annotations

import stripe

from frontdesk.settings import Settings

TIMEOUT_SECONDS = 20.0


class StripeUnavailable(Exception):
    """Stripe is not configured on this server."""


def make_client(settings: Settings) -> stripe.StripeClient | None:
    """None when STRIPE_SECRET_KEY is unset."""
    key = settings.secret("stripe_secret_key")
    if not key:
        return None
    # One network retry: the SDK retries only what Stripe marks retryable (and with the
    # request's idempotency key, so a retried create never makes two objects).
    return stripe.StripeClient(
        key, base_addresses={"api": settings.stripe_api_base.rstrip("/")},
        http_client=stripe.HTTPXClient(timeout=TIMEOUT_SECONDS), max_network_retries=1)


def error_message(exc: stripe.StripeError) -> str:
    """Stripe's own message, without the request id noise."""
    return getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
