"""The one interface every calendar of record implements, and what it can fail with.

The local appointments table is always consulted and always written (it is the record of
what was booked); a backend adds the business's own calendar: its busy times, and an event
for each booking that is created, moved and deleted with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class CalendarUnavailable(Exception):
    """The calendar of record cannot be reached right now (network, its server's errors,
    throttling). Nothing was booked, moved or cancelled."""

    reason = "calendar_unreachable"

    def __init__(self, provider: str, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{provider} calendar: {detail}")
        self.provider = provider
        self.detail = detail
        self.retry_after = retry_after


class ReauthorizationRequired(CalendarUnavailable):
    """The provider refused the stored credential: the owner must connect the calendar again.
    The credential is marked so (see the calendar status) until they do."""

    reason = "calendar_needs_reauthorization"


@dataclass(frozen=True)
class Busy:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class EventDraft:
    """What a booking looks like in the business's calendar."""
    appointment_id: int
    name: str
    phone: str
    starts_at: datetime
    ends_at: datetime
    business: str
    notes: str = ""

    @property
    def summary(self) -> str:
        return f"{self.name} ({self.phone})"

    @property
    def description(self) -> str:
        lines = [f"Booked by frontdesk for {self.name}, {self.phone}.",
                 f"Appointment #{self.appointment_id} at {self.business}."]
        if self.notes:
            lines.append(self.notes)
        return "\n".join(lines)


@dataclass(frozen=True)
class CalendarEvent:
    """An event as listed from a calendar (ours or the business's own)."""
    id: str
    summary: str
    start: datetime
    end: datetime
    appointment_id: int | None = None


class CalendarBackend(Protocol):
    provider: str   # builtin | google | microsoft

    async def busy(self, start: datetime, end: datetime) -> list[Busy]:
        """Busy blocks of the business's own calendar overlapping [start, end)."""

    async def create_event(self, draft: EventDraft) -> str | None:
        """The new event's id (None for the built-in calendar, which has no events)."""

    async def update_event(self, event_id: str, draft: EventDraft) -> str | None:
        """Move or change the event; the id it has afterwards (a new one when the business
        had deleted it and it was created again)."""

    async def delete_event(self, event_id: str) -> None:
        """Delete the event; one that is already gone counts as deleted."""

    async def events(self, start: datetime, end: datetime, limit: int) -> list[CalendarEvent]:
        """Events between start and end, earliest first."""
