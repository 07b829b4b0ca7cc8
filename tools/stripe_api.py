"""Stripe through its official SDK: one client per process, its API base from
configuration (tests and a Stripe-compatible mock stand in on 127.0.0.1)."""

from __future__ import annotations

import stripe

from frontdesk.settings import Settings

TIMEOUT_SECONDS = 20.0


class StripeUnavailable(Exception):
    """Stripe is not configured on this server."""


_clients: dict[tuple[str, str], stripe.StripeClient] = {}


def shared_client(settings: Settings) -> stripe.StripeClient | None:
    """The process's client for these settings (one connection pool, not one per call)."""
    key = settings.secret("stripe_secret_key")
    if not key:
        return None
    cache_key = (key, settings.stripe_api_base)
    if cache_key not in _clients:
        _clients[cache_key] = make_client(settings)  # type: ignore[assignment]
    return _clients[cache_key]


def is_failure(exc: BaseException) -> bool:
    """For the circuit breaker: Stripe unreachable or failing, not a refusal (4xx)."""
    if isinstance(exc, stripe.APIConnectionError):
        return True
    status = getattr(exc, "http_status", None)
    return not (isinstance(status, int) and 400 <= status < 500 and status != 429)


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
