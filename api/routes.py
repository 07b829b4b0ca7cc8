"""All REST routers, mounted under /api."""

from __future__ import annotations

from fastapi import APIRouter

from api import (
    account_settings,
    active_calls,
    admin,
    agent_settings,
    analytics,
    api_keys,
    appointments,
    auth_routes,
    billing,
    calendar,
    calendar_events,
    calls,
    clients,
    contacts,
    conversations,
    google_login,
    integrations,
    microsoft,
    recordings,
    seed_paths,
    stripe_webhook,
    team,
    tool_audit,
    twilio_numbers,
    webhooks,
)
from api.errors import responses

TAGS = [
    {"name": "auth", "description": "Accounts and sessions: register, log in, refresh, "
     "password reset, Google sign-in. Access tokens last 15 minutes, refresh tokens 7 days."},
    {"name": "clients", "description": "Receptionists, one per business phone number."},
    {"name": "agent settings", "description": "Per-client tunables the call pipeline reads."},
    {"name": "contacts", "description": "People a client talks to."},
    {"name": "conversations", "description": "Calls with transcripts; CSV export."},
    {"name": "calendar", "description": "Calendar credentials, encrypted at rest: Google "
     "Calendar or Microsoft 365 as the calendar of record."},
    {"name": "appointments", "description": "Bookings by the agent and by staff, free slots."},
    {"name": "API keys", "description": "Scoped keys for integrations (Bearer or X-API-Key)."},
    {"name": "calls", "description": "Every call across your clients; end, transfer, rate and"
     " annotate them. Also under /api/v1/calls."},
    {"name": "monitoring", "description": "Calls in progress."},
    {"name": "settings", "description": "Your preferences, the business profile, your "
     "password. API keys are also under /api/settings/api-keys."},
    {"name": "analytics", "description": "Calls per day, bookings, transfers, messages, "
     "minutes, busiest hours, caller sentiment; CSV or JSON export. Also /api/v1/analytics."},
    {"name": "tool audit", "description": "Every tool the agent ran: per client, per call, "
     "per-tool error rate and p50/p95 time, a summary across your clients."},
    {"name": "billing", "description": "Plans, usage, subscription, top-ups and invoices"
     " through Stripe Checkout; Stripe's signed webhook credits what was paid."},
    {"name": "team", "description": "The organisation's members and roles (owner, admin,"
     " member), invitations by e-mail, and the permissions matrix."},
    {"name": "admin", "description": "Operator actions."},
    {"name": "webhooks", "description": "Signed outbound webhooks: endpoints, deliveries, "
     "dead letters, redelivery, tests. Also under /api/v1/webhooks."},
    {"name": "twilio", "description": "Twilio credentials and numbers. Also under /api/v1."},
    {"name": "integrations", "description": "E-mail test. Also under /api/v1."},
]


def router() -> APIRouter:
    # 422 and 500 can answer any route: document the one error shape for all of them
    # (otherwise FastAPI documents its own 422 body, which this API never sends).
    api = APIRouter(prefix="/api", responses=responses(422, 500))
    for module in (auth_routes, google_login, clients, agent_settings, contacts,
                   conversations, calendar, microsoft, calendar_events, appointments, api_keys,
                   active_calls, admin, account_settings, seed_paths, analytics, recordings,
                   tool_audit, billing, stripe_webhook, team):
        api.include_router(module.router)
    # The Vami spec's path for keys: the same routes, documented once.
    api.include_router(api_keys.router, prefix="/settings", include_in_schema=False)
    for module in (calls, webhooks, twilio_numbers, integrations):
        api.include_router(module.router)
        # The same routes under /api/v1, documented once.
        api.include_router(module.router, prefix="/v1", include_in_schema=False)
    # /api/v1/analytics: summary, calls, and the documented analytics routes again.
    api.include_router(analytics.router, prefix="/v1", include_in_schema=False)
    api.include_router(analytics.v1_router, prefix="/v1", include_in_schema=False)
    return api
