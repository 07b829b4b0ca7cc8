"""The built-in calendar: the appointments table alone."""

from __future__ import annotations

from datetime import datetime

from db import appointments
from db.clients import Client
from db.pool import Executor
from tools.calendars.base import Busy, CalendarEvent, EventDraft


class BuiltinCalendar:
    provider = "builtin"

    def __init__(self, db: Executor, client: Client) -> None:
        self._db = db
        self._client = client

    async def busy(self, start: datetime, end: datetime) -> list[Busy]:
        return []  # its bookings are the appointments table, which every backend consults

    async def create_event(self, draft: EventDraft) -> str | None:
        return None

    async def update_event(self, event_id: str, draft: EventDraft) -> str | None:
        return None

    async def delete_event(self, event_id: str) -> None:
        return None

    async def events(self, start: datetime, end: datetime, limit: int) -> list[CalendarEvent]:
        booked = await appointments.booked_between(self._db, self._client.id, start, end)
        return [CalendarEvent(id=str(a.id), summary=f"{a.name} ({a.phone})", start=a.starts_at,
                              end=a.ends_at, appointment_id=a.id) for a in booked[:limit]]
