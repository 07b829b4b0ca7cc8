"""E-mails to the business: a new booking, a message taken, a low balance, the daily digest;
and the job that sends any queued e-mail."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from db import clients, emails, outbox
from db.clients import Client
from events.deps import Deps
from tools.breaker import BreakerOpen
from tools.email import EmailError
from tools.messaging import SEND_EMAIL

log = logging.getLogger("frontdesk.email")

DIGEST = "email.digest"
DEFAULT_DIGEST_HOUR = 8


def wants(client: Client | None, setting: str = "owner_notifications") -> bool:
    return client is None or client.settings.get(setting, True) is not False


async def to_owners(conn: Any, *, kind: str, subject: str, body: str, key: str,
                    client_id: int | None = None, organization_id: int | None = None) -> int:
    """Queue one e-mail per owner address, once per key; returns how many were queued."""
    queued = 0
    for oid, address in await emails.owner_addresses(conn, client_id=client_id,
                                                      organization_id=organization_id):
        email = await emails.insert(conn, kind=kind, to_address=address, subject=subject,
                                    body=body, owner_id=oid, client_id=client_id,
                                    key=f"{key}:{address}")
        if email is not None:
            await outbox.enqueue(conn, SEND_EMAIL, {"email_id": email.id},
                                 key=f"email:{email.id}")
            queued += 1
    return queued


async def on_event(conn: Any, event: dict[str, Any], client: Client | None) -> None:
    """The owner e-mails an event asks for."""
    data, kind = event["data"], event["type"]
    key = f"{kind}:{event['id']}"
    if kind == "appointment.booked" and wants(client):
        await to_owners(conn, kind="booking", client_id=event["client_id"], key=key,
                        subject=f"New booking: {data.get('name')} on {data.get('when')}",
                        body=f"{data.get('name')} ({data.get('phone')}) booked "
                             f"{data.get('when')} at {client.name if client else ''}.")
    elif kind == "message.taken" and wants(client):
        await to_owners(conn, kind="message", client_id=event["client_id"], key=key,
                        subject=f"Message from {data.get('name') or data.get('phone')}",
                        body=f"{data.get('name') or 'A caller'} ({data.get('phone')}) left a "
                             f"message:\n\n{data.get('message') or data.get('text') or ''}")
    elif kind == "balance.low":
        await to_owners(conn, kind="balance_low", client_id=event["client_id"],
                        organization_id=event["organization_id"], key=key,
                        subject=f"{data.get('client_name')}: call time is running low",
                        body=f"{data.get('client_name')} has {data.get('balance_seconds')} s "
                             f"of call time left, under 10 % of the last "
                             f"{data.get('grant_seconds')} s added. Top up to keep answering.")


async def send(deps: Deps, email_id: int, attempts: int) -> None:
    """The job: send one queued e-mail, once."""
    email = await emails.get(deps.pool, email_id)
    if email is None or email.status != "queued":
        return
    mailer = deps.mailer()
    try:
        result = await mailer.send(email.to_address, email.subject, email.body,
                                   idempotency_key=f"frontdesk-email-{email.id}")
    except (EmailError, BreakerOpen) as exc:
        if not getattr(exc, "permanent", False):
            deps.retry_or_give_up(attempts, str(exc))
        await emails.mark(deps.pool, email_id, "failed", backend=mailer.backend,
                          error=str(exc)[:300])
        log.warning("e-mail %d not sent: %s", email_id, exc)
        return
    await emails.mark(deps.pool, email_id, "sent" if result.delivered else "failed",
                      backend=result.backend, error=None if result.delivered else result.message)


async def digests(deps: Deps, now: datetime | None = None) -> int:
    """Hourly: each client whose local hour is its digest hour gets yesterday's digest
    (once per local day). Returns how many were queued."""
    now = now or datetime.now(UTC)
    queued = 0
    rows = await deps.pool.fetch("SELECT id FROM clients WHERE is_active ORDER BY id")
    for row in rows:
        client = await clients.get(deps.pool, row["id"])
        if client is None or not wants(client, "daily_digest"):
            continue
        local = now.astimezone(ZoneInfo(client.timezone))
        if local.hour != client.settings.get("digest_hour", DEFAULT_DIGEST_HOUR):
            continue
        day = local.date() - timedelta(days=1)
        body = await digest_body(deps.pool, client, day)
        if body is None:
            continue   # nothing happened
        async with deps.pool.acquire() as conn, conn.transaction():
            queued += await to_owners(conn, kind="digest", client_id=client.id,
                                      key=f"digest:{client.id}:{day}",
                                      subject=f"{client.name}: calls on {day:%a %b} {day.day}",
                                      body=body)
    return queued


async def digest_body(db: Any, client: Client, day: Any) -> str | None:
    tz = ZoneInfo(client.timezone)
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    end = start + timedelta(days=1)
    calls = await db.fetch(
        "SELECT caller_phone, outcome, summary, duration_seconds FROM conversations"
        " WHERE client_id = $1 AND status = 'ended' AND started_at >= $2 AND started_at < $3"
        " ORDER BY started_at", client.id, start, end)
    if not calls:
        return None
    outcomes: dict[str, int] = {}
    for c in calls:
        outcomes[c["outcome"] or "no_action"] = outcomes.get(c["outcome"] or "no_action", 0) + 1
    minutes = sum(c["duration_seconds"] or 0 for c in calls) / 60
    lines = [f"{len(calls)} call(s), {minutes:.0f} min in all: "
             + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(outcomes.items())), ""]
    lines += [f"- {c['caller_phone']}: {c['summary'] or c['outcome'] or ''}" for c in calls]
    return "\n".join(lines)
