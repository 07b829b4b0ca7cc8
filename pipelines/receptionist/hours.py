"""Opening-hours answers from the client's ``business_hours``, in its own time zone.

``business_hours`` maps "mon".."sun" to ["HH:MM", "HH:MM"]; a missing or malformed day
is closed (as the calendar tools read it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta

from pipelines.receptionist.replies import say_time

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
Hours = Mapping[str, Sequence[str]]


def hours_on(hours: Hours | None, day: date) -> tuple[time, time] | None:
    """(opens, closes) that day, or None when closed."""
    span = (hours or {}).get(DAY_KEYS[day.weekday()])
    try:
        opens, closes = (time.fromisoformat(str(v)) for v in span)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return (opens, closes) if opens < closes else None


def _named(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return f"on {DAY_NAMES[day.weekday()]}"


def answer(hours: Hours | None, kind: str, now: datetime, day: date | None) -> str:
    """What to say to an hours question: ``kind`` is "hours", "open" or "close"."""
    today = now.date()
    if day is None and kind == "hours":
        return week(hours)
    target = day or today
    span = hours_on(hours, target)
    when = _named(target, today)
    if span is None:
        following = next_open(hours, target)
        later = (f" We're open again {_named(following, today)} from "
                 f"{say_time(hours_on(hours, following)[0])}." if following else "")  # type: ignore[index]
        return f"No, we're closed {when}.{later}"
    opens, closes = span
    if target == today and now.time() >= closes:
        following = next_open(hours, today + timedelta(days=1))
        later = (f" We open again {_named(following, today)} at "
                 f"{say_time(hours_on(hours, following)[0])}." if following else "")  # type: ignore[index]
        return f"We're closed for today; we closed at {say_time(closes)}.{later}"
    if kind == "close":
        return f"We close at {say_time(closes)} {when}."
    if kind == "open":
        return f"We open at {say_time(opens)} {when}."
    return f"Yes, we're open {when} from {say_time(opens)} to {say_time(closes)}."


def next_open(hours: Hours | None, after: date) -> date | None:
    for offset in range(7):
        day = after + timedelta(days=offset)
        if hours_on(hours, day):
            return day
    return None


def week(hours: Hours | None) -> str:
    """ "We're open Monday to Friday, 9 AM to 5 PM, and Saturday, 9 AM to 1 PM." """
    runs: list[tuple[int, int, tuple[time, time]]] = []
    monday = date(2024, 1, 1)  # any Monday
    for i in range(7):
        span = hours_on(hours, monday + timedelta(days=i))
        if span is None:
            continue
        if runs and runs[-1][1] == i - 1 and runs[-1][2] == span:
            runs[-1] = (runs[-1][0], i, span)
        else:
            runs.append((i, i, span))
    if not runs:
        return "We're open by appointment only."
    parts = []
    for first, last, (opens, closes) in runs:
        days = DAY_NAMES[first] if first == last else (
            f"{DAY_NAMES[first]} and {DAY_NAMES[last]}" if last == first + 1
            else f"{DAY_NAMES[first]} to {DAY_NAMES[last]}")
        parts.append(f"{days}, {say_time(opens)} to {say_time(closes)}")
    if len(runs) == 1 and runs[0][:2] == (0, 6):
        opens, closes = runs[0][2]
        return f"We're open every day, {say_time(opens)} to {say_time(closes)}."
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", and " + parts[-1]
    return f"We're open {text}."
