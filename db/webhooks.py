"""webhook_endpoints, webhook_deliveries, webhook_attempts: outbound webhooks and their log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Executor


@dataclass(frozen=True)
class Endpoint:
    id: int
    owner_id: int  # who registered it
    client_id: int | None
    url: str
    events: list[str]
    description: str
    secret_ciphertext: bytes
    is_active: bool
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    organization_id: int = 0


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: int
    event_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Attempt:
    attempt: int
    status_code: int | None
    error: str | None
    latency_ms: int
    response: str
    created_at: datetime


_E = ", ".join(Endpoint.__dataclass_fields__)
_D = ", ".join(Delivery.__dataclass_fields__)
_A = ", ".join(Attempt.__dataclass_fields__)


# --- endpoints (organisation-scoped: another organisation's endpoint is simply not found) ----

async def insert(db: Executor, *, owner_id: int, client_id: int | None, url: str,
                 events: list[str], description: str, secret_ciphertext: bytes,
                 organization_id: int | None = None) -> Endpoint:
    """``owner_id``: who registers it; the endpoint belongs to ``organization_id`` (by
    default that user's organisation)."""
    row = await db.fetchrow(
        "INSERT INTO webhook_endpoints (owner_id, client_id, url, events, description,"
        " secret_ciphertext, organization_id) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7,"
        f" (SELECT organization_id FROM memberships WHERE user_id = $1))) RETURNING {_E}",
        owner_id, client_id, url, events, description, secret_ciphertext, organization_id)
    return Endpoint(**row)


async def list_for_org(db: Executor, organization_id: int) -> list[Endpoint]:
    rows = await db.fetch(f"SELECT {_E} FROM webhook_endpoints WHERE organization_id = $1"
                          " ORDER BY id", organization_id)
    return [Endpoint(**r) for r in rows]


async def get_for_org(db: Executor, organization_id: int, endpoint_id: int) -> Endpoint | None:
    row = await db.fetchrow(f"SELECT {_E} FROM webhook_endpoints WHERE id = $1"
                            " AND organization_id = $2", endpoint_id, organization_id)
    return Endpoint(**row) if row else None


async def delete_for_org(db: Executor, organization_id: int, endpoint_id: int) -> bool:
    result = await db.execute(
        "DELETE FROM webhook_endpoints WHERE id = $1 AND organization_id = $2",
        endpoint_id, organization_id)
    return result.endswith(" 1")


async def enable_for_org(db: Executor, organization_id: int,
                         endpoint_id: int) -> Endpoint | None:
    row = await db.fetchrow(
        "UPDATE webhook_endpoints SET is_active = true, disabled_at = NULL,"
        " disabled_reason = NULL, failing_since = NULL WHERE id = $1 AND organization_id = $2"
        f" RETURNING {_E}", endpoint_id, organization_id)
    return Endpoint(**row) if row else None


# --- the worker's side -----------------------------------------------------------------------

async def get(db: Executor, endpoint_id: int) -> Endpoint | None:
    row = await db.fetchrow(f"SELECT {_E} FROM webhook_endpoints WHERE id = $1", endpoint_id)
    return Endpoint(**row) if row else None


async def subscribed(db: Executor, *, organization_id: int, client_id: int | None,
                     event_type: str) -> list[Endpoint]:
    """Active endpoints of the organisation that take this event (for this client, or
    all)."""
    rows = await db.fetch(
        f"SELECT {_E} FROM webhook_endpoints WHERE organization_id = $1 AND is_active"
        " AND $3 = ANY(events) AND (client_id IS NULL OR client_id = $2) ORDER BY id",
        organization_id, client_id, event_type)
    return [Endpoint(**r) for r in rows]


async def create_delivery(db: Executor, endpoint_id: int, event_id: int) -> int | None:
    """The delivery of an event to an endpoint, once: None when it exists already."""
    return await db.fetchval(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id) VALUES ($1, $2)"
        " ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id", endpoint_id, event_id)


async def delivery(db: Executor, delivery_id: int) -> Delivery | None:
    row = await db.fetchrow(f"SELECT {_D} FROM webhook_deliveries WHERE id = $1", delivery_id)
    return Delivery(**row) if row else None


async def record_attempt(db: Executor, delivery_id: int, *, status_code: int | None,
                         error: str | None, latency_ms: int, response: str,
                         outcome: str, next_attempt_at: datetime | None) -> int:
    """Log one attempt and move the delivery to ``outcome``; returns its attempt number."""
    return await db.fetchval(
        "WITH d AS (UPDATE webhook_deliveries SET attempts = attempts + 1, status = $6,"
        " next_attempt_at = $7,"
        " delivered_at = CASE WHEN $6 = 'delivered' THEN now() ELSE delivered_at END"
        " WHERE id = $1 RETURNING id, attempts)"
        " INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, latency_ms,"
        " response) SELECT id, attempts, $2, $3, $4, $5 FROM d RETURNING attempt",
        delivery_id, status_code, error, latency_ms, response, outcome, next_attempt_at)


async def endpoint_succeeded(db: Executor, endpoint_id: int) -> None:
    await db.execute("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1"
                     " AND failing_since IS NOT NULL", endpoint_id)


async def endpoint_failed(db: Executor, endpoint_id: int, *,
                          disable_after_seconds: float) -> bool:
    """Note a failure; disable the endpoint once it has failed for that long. True when this
    call disabled it."""
    disabled = await db.fetchval(
        "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()),"
        " is_active = CASE WHEN failing_since < now() - make_interval(secs => $2)"
        "   THEN false ELSE is_active END,"
        " disabled_at = CASE WHEN is_active AND failing_since < now() - make_interval(secs => $2)"
        "   THEN now() ELSE disabled_at END,"
        " disabled_reason = CASE WHEN is_active AND failing_since < now()"
        "   - make_interval(secs => $2) THEN 'failing for too long' ELSE disabled_reason END"
        " WHERE id = $1 RETURNING is_active = false AND disabled_at = now()",
        endpoint_id, disable_after_seconds)
    return bool(disabled)


async def requeue(db: Executor, delivery_id: int) -> bool:
    """A dead delivery back to pending (redelivery); False unless it was dead."""
    result = await db.execute(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()"
        " WHERE id = $1 AND status = 'dead'", delivery_id)
    return result.endswith(" 1")


# --- the delivery log ------------------------------------------------------------------------

async def deliveries_for_endpoint(db: Executor, endpoint_id: int, *, status: str | None,
                                  limit: int, offset: int,
                                  delivery_id: int | None = None) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT d.id, d.event_id, e.type AS event_type, d.status, d.attempts,"
        " d.next_attempt_at, d.delivered_at, d.created_at FROM webhook_deliveries d"
        " JOIN events e ON e.id = d.event_id WHERE d.endpoint_id = $1"
        " AND ($2::text IS NULL OR d.status = $2) AND ($5::bigint IS NULL OR d.id = $5)"
        " ORDER BY d.id DESC LIMIT $3 OFFSET $4", endpoint_id, status, limit, offset, delivery_id)
    return [dict(r) for r in rows]


async def delivery_for_endpoint(db: Executor, endpoint_id: int,
                                delivery_id: int) -> Delivery | None:
    row = await db.fetchrow(f"SELECT {_D} FROM webhook_deliveries WHERE id = $1"
                            " AND endpoint_id = $2", delivery_id, endpoint_id)
    return Delivery(**row) if row else None


async def attempts_for(db: Executor, delivery_ids: list[int]) -> dict[int, list[Attempt]]:
    rows = await db.fetch(f"SELECT delivery_id, {_A} FROM webhook_attempts"
                          " WHERE delivery_id = ANY($1::bigint[]) ORDER BY id", delivery_ids)
    out: dict[int, list[Attempt]] = {}
    for r in rows:
        values = dict(r)
        out.setdefault(values.pop("delivery_id"), []).append(Attempt(**values))
    return out
