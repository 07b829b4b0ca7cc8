"""billing_accounts: an organisation's Stripe customer and subscription; stripe_events: the
Stripe events already applied (by id), so a replayed or retried event changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class BillingAccount:
    organization_id: int
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    subscription_plan: str | None
    subscription_status: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    downgrade_at: datetime | None
    grant_client_id: int | None


_COLUMNS = ("organization_id, stripe_customer_id, stripe_subscription_id, subscription_plan,"
            " subscription_status, current_period_start, current_period_end,"
            " cancel_at_period_end, downgrade_at, grant_client_id")
# Fields the Stripe event handlers may set (never organization_id).
_SETTABLE = frozenset(_COLUMNS.replace(" ", "").split(",")) - {"organization_id"}


async def account(db: Executor, organization_id: int, *, lock: bool = False
                  ) -> BillingAccount | None:
    lock_clause = " FOR UPDATE" if lock else ""
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM billing_accounts"
                            f" WHERE organization_id = $1{lock_clause}", organization_id)
    return BillingAccount(**row) if row else None


async def update(db: Executor, organization_id: int, **values: object) -> BillingAccount:
    """Create the organisation's account or change the given fields of it."""
    unknown = set(values) - _SETTABLE
    if unknown:
        raise ValueError(f"not billing account fields: {sorted(unknown)}")
    names = list(values)
    cols = ", ".join(["organization_id", *names])
    params = ", ".join(f"${i}" for i in range(1, len(names) + 2))
    sets = ", ".join([*(f"{n} = EXCLUDED.{n}" for n in names), "updated_at = now()"])
    row = await db.fetchrow(
        f"INSERT INTO billing_accounts AS b ({cols}) VALUES ({params})"
        f" ON CONFLICT (organization_id) DO UPDATE SET {sets} RETURNING {_COLUMNS}",
        organization_id, *values.values())
    return BillingAccount(**row)


async def organization_of(db: Executor, *, customer_id: str | None = None,
                          subscription_id: str | None = None) -> int | None:
    """The organisation a Stripe customer or subscription belongs to."""
    if customer_id:
        org = await db.fetchval("SELECT organization_id FROM billing_accounts"
                                " WHERE stripe_customer_id = $1", customer_id)
        if org is not None:
            return org
    if subscription_id:
        return await db.fetchval("SELECT organization_id FROM billing_accounts"
                                 " WHERE stripe_subscription_id = $1", subscription_id)
    return None


async def claim_event(db: Executor, event_id: str, event_type: str) -> bool:
    """Take an event for handling in the caller's transaction; False if it was handled
    already (or is being handled by a concurrent delivery, which then wins)."""
    inserted = await db.fetchval(
        "INSERT INTO stripe_events (id, type, outcome) VALUES ($1, $2, 'pending')"
        " ON CONFLICT (id) DO NOTHING RETURNING true", event_id, event_type)
    return bool(inserted)


async def finish_event(db: Executor, event_id: str, *, organization_id: int | None,
                       outcome: str) -> None:
    await db.execute("UPDATE stripe_events SET organization_id = $2, outcome = $3"
                     " WHERE id = $1", event_id, organization_id, outcome)


async def event_outcome(db: Executor, event_id: str) -> str | None:
    return await db.fetchval("SELECT outcome FROM stripe_events WHERE id = $1", event_id)


async def set_plan(db: Executor, organization_id: int, plan: str) -> None:
    await db.execute("UPDATE organizations SET plan = $2, updated_at = now() WHERE id = $1",
                     organization_id, plan)


async def grant_client(db: Executor, organization_id: int, preferred: int | None) -> int | None:
    """Where a period's minutes go: the chosen client if it is still the organisation's,
    else its oldest client."""
    return await db.fetchval(
        "SELECT id FROM clients WHERE organization_id = $1"
        " ORDER BY (id = $2) DESC, id LIMIT 1", organization_id, preferred)


async def owns_client(db: Executor, organization_id: int, client_id: int) -> bool:
    return bool(await db.fetchval(
        "SELECT true FROM clients WHERE id = $1 AND organization_id = $2",
        client_id, organization_id))


async def credited(db: Executor, reference: str) -> bool:
    """Whether a Stripe object (checkout session, invoice) already credited seconds."""
    return bool(await db.fetchval(
        "SELECT true FROM usage_ledger WHERE reason IN ('stripe_topup', 'plan_grant')"
        " AND note = $1 LIMIT 1", reference))


async def apply_due_downgrades(db: Executor) -> list[int]:
    """Organisations whose grace period ran out go back to the free plan."""
    rows = await db.fetch(
        "WITH due AS ("
        "  UPDATE billing_accounts SET downgrade_at = NULL, subscription_plan = NULL,"
        "    updated_at = now() WHERE downgrade_at <= now() RETURNING organization_id"
        ") UPDATE organizations o SET plan = 'free', updated_at = now() FROM due"
        " WHERE o.id = due.organization_id RETURNING o.id")
    return [r["id"] for r in rows]


async def seconds_used(db: Executor, organization_id: int, since: datetime) -> int:
    """Talk time the organisation's calls took since ``since`` (refunds deducted)."""
    return await db.fetchval(
        "SELECT coalesce(sum(l.seconds), 0)::bigint FROM usage_ledger l"
        " JOIN clients c ON c.id = l.client_id"
        " WHERE c.organization_id = $1 AND l.created_at >= $2"
        " AND l.reason IN ('call_tick', 'call_final', 'call_refund')",
        organization_id, since)


async def balance_seconds(db: Executor, organization_id: int) -> int:
    return await db.fetchval("SELECT coalesce(sum(balance_seconds), 0)::bigint FROM clients"
                             " WHERE organization_id = $1", organization_id)
