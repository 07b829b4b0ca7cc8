"""Slot rules: the opening hours' grid in the client's zone, minus what is taken (bookings
in the appointments table and busy blocks in the calendar of record)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import date as Date
from datetime import time as Time
from zoneinfo import ZoneInfo

from db import appointments
from db.clients import Client
from db.pool import Executor
from tools.calendars.base import Busy, CalendarBackend
from tools.calendars.builtin import BuiltinCalendar

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOOKAHEAD_DAYS = 14  # how far "next open day" alternatives search
MAX_ALTERNATIVES = 3


def _minutes(hhmm: str) -> int:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    total = hours * 60 + minutes
    if not (0 <= minutes < 60 and 0 <= total <= 24 * 60):
        raise ValueError(hhmm)
    return total


def opening_hours(client: Client, day: Date) -> tuple[int, int] | None:
    """(open, close) in minutes after local midnight, or None when closed that day."""
    hours = (client.business_hours or {}).get(WEEKDAY_KEYS[day.weekday()])
    try:
        opens, closes = (_minutes(h) for h in hours)
    except (TypeError, ValueError):
        return None  # a missing or malformed entry means closed, not a crashed call
    return (opens, closes) if opens < closes else None


def day_slots(client: Client, day: Date) -> list[datetime]:
    """Every slot start on `day`, booked or not, as aware datetimes in the client's zone."""
    hours = opening_hours(client, day)
    if hours is None:
        return []
    tz = ZoneInfo(client.timezone)
    slots = []
    for minute in range(hours[0], hours[1] - client.slot_minutes + 1, client.slot_minutes):
        local = datetime.combine(day, Time(minute // 60, minute % 60), tzinfo=tz)
        # A spring-forward gap removes some wall-clock times; they do not round-trip.
        if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
            slots.append(local)
    return slots


def local_day(client: Client, instant: datetime) -> Date:
    return instant.astimezone(ZoneInfo(client.timezone)).date()


def overlaps(start: datetime, end: datetime, taken: Sequence[Busy]) -> bool:
    return any(b.start < end and start < b.end for b in taken)


@dataclass(frozen=True)
class Schedule:
    """What is taken from ``first`` to ``last`` (local days, inclusive), read once."""
    client: Client
    taken: list[Busy]

    @classmethod
    async def load(cls, db: Executor, calendar: CalendarBackend, client: Client, first: Date,
                   last: Date) -> Schedule:
        tz = ZoneInfo(client.timezone)
        start = datetime.combine(first, Time(), tzinfo=tz)
        end = datetime.combine(last + timedelta(days=1), Time(), tzinfo=tz)
        booked = await appointments.booked_between(db, client.id, start, end)
        external = await calendar.busy(start, end)
        return cls(client, [Busy(a.starts_at, a.ends_at) for a in booked] + external)

    def free(self, day: Date, now: datetime) -> list[datetime]:
        """Slot starts on ``day`` in the future that overlap nothing taken."""
        length = timedelta(minutes=self.client.slot_minutes)
        # Overlap rather than equality, so bookings made under another slot length still block.
        return [s for s in day_slots(self.client, day)
                if s > now and not overlaps(s, s + length, self.taken)]


async def free_slots(db: Executor, client: Client, day: Date, now: datetime,
                     calendar: CalendarBackend | None = None) -> list[datetime]:
    """Slot starts on `day` that are in the future and overlap nothing booked or busy."""
    if not [s for s in day_slots(client, day) if s > now]:
        return []
    calendar = calendar or BuiltinCalendar(db, client)
    return (await Schedule.load(db, calendar, client, day, day)).free(day, now)


async def next_open(db: Executor, calendar: CalendarBackend, client: Client, after: Date,
                    now: datetime) -> list[datetime]:
    """The first free slots of the next day that has any, within the look-ahead."""
    first = max(after + timedelta(days=1), local_day(client, now))
    last = first + timedelta(days=LOOKAHEAD_DAYS - 1)
    if not any(day_slots(client, first + timedelta(days=n)) for n in range(LOOKAHEAD_DAYS)):
        return []  # closed every day: nothing to ask the calendar
    schedule = await Schedule.load(db, calendar, client, first, last)
    for n in range(LOOKAHEAD_DAYS):
        free = schedule.free(first + timedelta(days=n), now)
        if free:
            return free[:MAX_ALTERNATIVES]
    return []


async def alternatives(db: Executor, calendar: CalendarBackend, client: Client, day: Date,
                       wanted: datetime, now: datetime) -> list[datetime]:
    """Up to three free slots nearest `wanted` that day, else the next open day's first ones."""
    free = await free_slots(db, client, day, now, calendar)
    if not free:
        return await next_open(db, calendar, client, day, now)
    nearest = sorted(free, key=lambda s: (abs(s - wanted), s))[:MAX_ALTERNATIVES]
    return sorted(nearest)


@dataclass(frozen=True)
class DayAvailability:
    closed: bool
    free: list[datetime]
    next_available: list[datetime]   # the next open day's first free slots, when none today


async def availability(db: Executor, calendar: CalendarBackend, client: Client, day: Date,
                       now: datetime) -> DayAvailability:
    """One day's free slots, as the agent's tool and the API both report them."""
    closed = opening_hours(client, day) is None
    free = [] if closed else await free_slots(db, client, day, now, calendar)
    later = [] if free else await next_open(db, calendar, client, day, now)
    return DayAvailability(closed=closed, free=free, next_available=later)
