"""The consumer of the outbox: one event becomes its webhook deliveries, texts and owner
e-mails, all queued in one transaction, so running it twice changes nothing."""

from __future__ import annotations

import logging

from db import appointments, clients
from events import notifications, texts, webhooks
from events.deps import Deps

log = logging.getLogger("frontdesk.events")


async def fan_out(deps: Deps, event_id: int) -> None:
    async with deps.pool.acquire() as conn, conn.transaction():
        event = await conn.fetchrow("SELECT id, owner_id, organization_id, client_id, type,"
                                    " data, created_at"
                                    " FROM events WHERE id = $1", event_id)
        if event is None:
            return
        event = dict(event)
        client = await clients.get(conn, event["client_id"]) if event["client_id"] else None
        deliveries = await webhooks.fan_out(conn, event)
        if client is not None and event["type"] in ("appointment.booked",
                                                    "appointment.rescheduled"):
            booking = await appointments.get(conn, client.id,
                                             int(event["data"]["appointment_id"]))
            if booking is not None and booking.status == "booked":
                if event["type"] == "appointment.booked":
                    await texts.on_booked(conn, client, booking)
                else:
                    await texts.schedule_reminder(conn, client, booking,
                                                  now=event["created_at"])
        await notifications.on_event(conn, event, client)
    log.info("event %d (%s): %d webhook deliveries", event_id, event["type"], deliveries)
