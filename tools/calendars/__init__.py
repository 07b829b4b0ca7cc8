"""The client's calendar of record behind one interface (base.CalendarBackend): the built-in
calendar (the appointments table), Google Calendar, or Microsoft 365."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx

from db import calendar_credentials
from db.clients import Client
from db.sealing import server_sealer
from frontdesk.settings import Settings
from tools.calendars.base import (
    CalendarBackend,
    CalendarEvent,
    CalendarUnavailable,
    ReauthorizationRequired,
)
from tools.calendars.builtin import BuiltinCalendar
from tools.calendars.google import GoogleCalendar
from tools.calendars.microsoft import MicrosoftCalendar
from tools.calendars.remote import Access

__all__ = ["CalendarBackend", "CalendarEvent", "CalendarUnavailable",
           "ReauthorizationRequired", "open_calendar"]

_BACKENDS = {"google": GoogleCalendar, "microsoft": MicrosoftCalendar}


@asynccontextmanager
async def open_calendar(pool: asyncpg.Pool, settings: Settings | None,
                        client: Client) -> AsyncIterator[CalendarBackend]:
    """The client's calendar of record for the length of one operation."""
    cred = await calendar_credentials.get(pool, client.id)
    if cred is None:
        yield BuiltinCalendar(pool, client)
        return
    if settings is None:  # never guess at a connected calendar: refuse rather than double-book
        raise CalendarUnavailable(cred.provider, "no configuration to reach it with")
    if cred.needs_reauthorization:
        raise ReauthorizationRequired(cred.provider, "connect the calendar again")
    sealer = await server_sealer(pool, settings.secret("encryption_key"))
    try:
        secret = sealer.open(cred.ciphertext)
    except ValueError:
        raise ReauthorizationRequired(cred.provider, "the stored credential cannot be"
                                      " decrypted (was ENCRYPTION_KEY changed?)") from None
    async with httpx.AsyncClient(timeout=settings.calendar_timeout_seconds) as http:
        yield _BACKENDS[cred.provider](Access(pool=pool, settings=settings, client=client,
                                              credential=cred, sealer=sealer, secret=secret,
                                              http=http))
