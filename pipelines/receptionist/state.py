"""The dialogue state, rebuilt from the LLM context on every turn.

Nothing is kept between turns: the context is the single source of truth. After
a barge-in the context holds only what the caller actually heard, so a question
cut off before it was spoken is not treated as asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from pipelines.receptionist import replies
from pipelines.receptionist.names import corrected, plausible
from pipelines.receptionist.nlu import Understanding, understand
from pipelines.receptionist.when import explicit_times, in_part_of_day

GET_SLOTS = "get_available_slots"
BOOK = "book_appointment"
END_CALL = "end_call"
TRANSFER = "transfer_call"
TAKE_MESSAGE = "take_message"
FIND = "find_appointments"
CANCEL = "cancel_appointment"
RESCHEDULE = "reschedule_appointment"
MANAGE_TOOLS = (FIND, CANCEL, RESCHEDULE)

_IN_PROGRESS = {"IN_PROGRESS"}
_PLAUSIBLE = (time(7, 0), time(21, 0))  # an earlier "morning" does not make "at 3" 3 AM
# Where our own offers begin in a reply: times before this are the one refused.
_OFFER_START = re.compile(r"i have|closest time|i can do|next opening", re.I)


@dataclass
class Request:
    """The appointment being arranged."""

    day: date | None = None
    time: time | None = None
    alternative: time | None = None  # the other half of the day for a bare "at 3"
    part: str | None = None  # "morning", "afternoon", "evening"
    check_only: bool = False  # asked about availability rather than to book
    confirmed: bool = False  # the caller said yes to the read-back


@dataclass(frozen=True)
class DaySlots:
    slots: tuple[time, ...]
    closed: bool = False


@dataclass(frozen=True)
class Offer:
    day: date | None  # None: the day being discussed
    time: time


@dataclass(frozen=True)
class ToolOutcome:
    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]


@dataclass(frozen=True)
class Booking:
    day: date
    time: time
    name: str
    id: int | None = None   # the appointment's id, when the tool's result named it


@dataclass(frozen=True)
class Held:
    """One of the caller's own upcoming appointments, as find_appointments listed it."""

    id: int
    day: date
    time: time


@dataclass
class Change:
    """A caller's own booking being cancelled, moved or checked."""

    action: str  # "cancel", "reschedule", "check"
    found: tuple[Held, ...] | None = None  # None: not looked up yet
    target: Held | None = None
    new: Request = field(default_factory=Request)  # where a reschedule moves it
    confirmed: bool = False
    closed: bool = False  # said what could be said (none found, number withheld, done)
    lookup_failed: bool = False  # the caller ID is withheld: nothing to look up by


@dataclass
class MessageDraft:
    """A message being taken for the business: who, what, and where to call back."""

    body: str | None = None
    phone: str | None = None  # a number the caller gave; None: the caller ID
    callback_settled: bool = False  # the caller said which number to call back on
    asked_number: bool = False  # they said no to their caller ID: asked for another


@dataclass
class DialogueState:
    request: Request | None = None
    name: str | None = None
    slots: dict[date, DaySlots] = field(default_factory=dict)
    bookings: list[Booking] = field(default_factory=list)
    # What the caller last heard us say and ask, and the times we offered in it.
    last_reply: str = ""
    expect: str | None = None
    offers: tuple[Offer, ...] = ()
    pending_offers: tuple[Offer, ...] = ()  # from a tool result, not yet spoken
    greeted: bool = False
    ended: bool = False
    # The call is being handed to a person (the caller hears only the hold line), or a
    # transfer was tried and could not be made (not tried again on this call).
    transferring: bool = False
    transfer_failed: bool = False
    # "none", "user", "assistant", "tool" (a result), "waiting" (a call in flight)
    last: str = "none"
    last_user: Understanding | None = None
    last_tool: ToolOutcome | None = None
    # What the last caller turn did to the request.
    cancelled: bool = False
    wants_change: bool = False
    changed_after_booking: bool = False
    # Names: one that cannot be a name is asked to be spelled, once per name.
    needs_spelling: bool = False
    spell_asked: bool = False
    # Messages for the business, and the caller's turns in order (what they wanted).
    message: MessageDraft | None = None
    messages_taken: int = 0
    gave_up: bool = False
    caller_lines: list[str] = field(default_factory=list)
    # Caller turns in a row that moved nothing (unheard, or understood but no answer).
    misses: int = 0
    # The calendar of record could not be reached on this call: nothing more is looked up
    # or booked, and what the caller wanted goes into a message instead.
    calendar_down: bool = False
    calendar_message: bool = False  # that message has been taken
    # The caller's own booking being changed (only on a line with the find, cancel and
    # reschedule tools), and whether their last turn dropped it ("never mind").
    change: Change | None = None
    change_dropped: bool = False


def message_text(message: Any) -> str:
    """The text of a standard context message (string or list of text parts)."""
    if not isinstance(message, dict):
        return ""  # an LLM-specific message: not ours to read
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content
                        if isinstance(p, dict) and p.get("type") == "text")
    return ""


def parse_day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def parse_hhmm(value: Any) -> time | None:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip()) if isinstance(value, str) else None
    if m is None or int(m[1]) > 23 or int(m[2]) > 59:
        return None
    return time(int(m[1]), int(m[2]))


def _tool_result(content: str) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except (TypeError, ValueError):
        return {"error": str(content)}
    return value if isinstance(value, dict) else {"error": str(value)}


def _offers(items: Any, default_day: date | None) -> tuple[Offer, ...]:
    """Alternatives from a tool result ("10:00" or {"date", "time"}), first day's only."""
    offers = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            day, t = parse_day(item.get("date")) or default_day, parse_hhmm(item.get("time"))
        else:
            day, t = default_day, parse_hhmm(item)
        if t is not None:
            offers.append(Offer(day, t))
    return tuple(o for o in offers if o.day == offers[0].day) if offers else ()


def replay(messages: Sequence[Any], today: date, *, can_manage: bool = False
           ) -> DialogueState:
    """Walk the context in order and return where the conversation stands.

    ``can_manage``: the line offers the tools to find, cancel and move the caller's own
    bookings, so asking for that starts a change instead of being refused.
    """
    st = DialogueState()
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                fn = call.get("function") or {}
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except (TypeError, ValueError):
                    args = {}
                calls[call.get("id", "")] = (fn.get("name", ""), args if isinstance(args, dict)
                                             else {})
                st.ended = st.ended or fn.get("name") == END_CALL
                st.last = "waiting"
            text = message_text(message)
            if text.strip():
                _heard(st, text)
        elif role == "tool":
            content = message_text(message)
            if content in _IN_PROGRESS:
                st.last = "waiting"
                continue
            name, args = calls.get(message.get("tool_call_id", ""), ("", {}))
            _apply_tool(st, ToolOutcome(name, args, _tool_result(content)))
        elif role == "user":
            text = message_text(message)
            listed = (st.change.found if st.change and st.expect == replies.ASK_WHICH_BOOKING
                      else None)
            u = understand(text, today=today, expect=st.expect,
                           offered=len(listed) if listed else len(st.offers))
            before = _snapshot(st)
            if not (can_manage and _apply_change(st, u, today)):
                _apply_user(st, u, today)
                if can_manage and st.changed_after_booking and st.bookings[-1].id:
                    _move_the_new_booking(st, u, today)
            st.caller_lines.append(text)
            usable = _snapshot(st) != before or bool(
                u.question or u.goodbye or u.done or u.thanks or u.cancel or u.out_of_scope
                or u.transfer or (u.greeting and not st.greeted)
                or (st.expect in _YES_NO_ONLY and (u.yes or u.no)))
            st.misses = 0 if usable else st.misses + 1
            st.last, st.last_user = "user", u
    return st


# Questions a bare yes or no answers in full.
_YES_NO_ONLY = (replies.ASK_ANYTHING_ELSE, replies.ASK_TAKE_MESSAGE, replies.ASK_WANT_BOOKING)


def _snapshot(st: DialogueState) -> tuple[Any, ...]:
    r = st.request
    m = st.message
    c = st.change
    return (None if r is None else (r.day, r.time, r.part, r.check_only, r.confirmed),
            None if c is None else (c.action, c.target, c.new.day, c.new.time, c.confirmed),
            st.change_dropped, st.name, st.needs_spelling, st.cancelled, st.wants_change,
            st.changed_after_booking,
            None if m is None else (m.body, m.phone, m.callback_settled, m.asked_number))


def _heard(st: DialogueState, text: str) -> None:
    st.greeted = True
    st.last = "assistant"
    st.last_reply = " ".join(text.split())
    st.expect = replies.prompt_kind(text)
    if st.expect == replies.ASK_SPELL:
        st.spell_asked = True
    if st.pending_offers:
        st.offers, st.pending_offers = st.pending_offers, ()
    elif st.expect == replies.ASK_TIME:
        starts = [m.end() for m in _OFFER_START.finditer(text)]
        st.offers = tuple(Offer(None, t) for t in explicit_times(text[starts[-1]:] if starts
                                                                  else text))
    else:
        st.offers = ()


def calendar_unreachable(outcome: ToolOutcome) -> bool:
    """A calendar tool that could not reach the calendar of record (it changed nothing)."""
    return (outcome.name in (GET_SLOTS, BOOK, CANCEL, RESCHEDULE)
            and outcome.result.get("reason") == CALENDAR_UNREACHABLE)


CALENDAR_UNREACHABLE = "calendar_unreachable"


def _apply_tool(st: DialogueState, outcome: ToolOutcome) -> None:
    st.last, st.last_tool, st.pending_offers = "tool", outcome, ()
    result, r = outcome.result, st.request
    day = parse_day(outcome.arguments.get("date"))
    if st.change is not None and _apply_change_tool(st, st.change, outcome):
        return
    if calendar_unreachable(outcome):
        st.calendar_down = True  # its empty "slots" say nothing about the day
        if r is not None:
            r.confirmed = False
        return
    if outcome.name == GET_SLOTS:
        if day and "error" not in result and isinstance(result.get("slots"), list):
            slots = tuple(t for t in (parse_hhmm(s) for s in result["slots"]) if t)
            st.slots[day] = DaySlots(slots, closed=bool(result.get("closed")))
            if not slots:
                st.pending_offers = _offers(result.get("next_available"), day)
    elif outcome.name == BOOK:
        wanted = parse_hhmm(outcome.arguments.get("time"))
        if result.get("booked") is True:
            st.bookings.append(Booking(
                day=parse_day(result.get("date")) or day or date.min,
                time=parse_hhmm(result.get("time")) or wanted or time(0),
                name=str(result.get("name") or outcome.arguments.get("name") or ""),
                id=_appointment_id(result.get("appointment_id"))))
            st.request = None
            return
        if r is not None:
            r.confirmed = False
        reason = result.get("reason")
        if reason in ("slot_taken", "outside_hours", "in_past"):
            if r is not None:
                r.time = r.alternative = None
            known = st.slots.get(day) if day else None
            if known and wanted:
                st.slots[day] = DaySlots(tuple(t for t in known.slots if t != wanted))
        elif reason == "closed" and day:
            st.slots[day] = DaySlots((), closed=True)
            if r is not None and r.day == day:
                r.day = None
        st.pending_offers = _offers(result.get("alternatives"), day)
    elif outcome.name == TAKE_MESSAGE:
        if result.get("taken") is True:
            st.messages_taken += 1
            st.gave_up = outcome.arguments.get("reason") == "not_understood"
            if outcome.arguments.get("reason") == CALENDAR_UNREACHABLE:
                st.calendar_message, st.request = True, None
            st.message = None
    elif outcome.name == END_CALL:
        st.ended = True
    elif outcome.name == TRANSFER:
        if result.get("transferring") is True:
            st.transferring = True
        else:
            st.transfer_failed = True


def _held(items: Any) -> tuple[Held, ...]:
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("appointment_id"), int):
            continue
        day, at = parse_day(item.get("date")), parse_hhmm(item.get("time"))
        if day is not None and at is not None:
            found.append(Held(item["appointment_id"], day, at))
    return tuple(found)


def _apply_change_tool(st: DialogueState, c: Change, outcome: ToolOutcome) -> bool:
    """A tool result of the change in progress; False for one that is not about it."""
    result = outcome.result
    if outcome.name == FIND:
        if "error" in result:
            c.found, c.lookup_failed, c.closed = (), True, True
        else:
            c.found = _held(result.get("appointments"))
            c.closed = not c.found or c.action == "check"  # "check" just says them
            if len(c.found) == 1:
                c.target = c.found[0]
        return True
    if outcome.name == CANCEL:
        st.change = None  # done, or refused for good: the engine says which
        return True
    if outcome.name == RESCHEDULE:
        if result.get("rescheduled") is True or result.get("reason") != "slot_taken":
            st.change = None
            return True
        wanted = parse_hhmm(outcome.arguments.get("time"))
        day = parse_day(outcome.arguments.get("date"))
        c.confirmed, c.new.time = False, None
        known = st.slots.get(day) if day else None
        if known and wanted:
            st.slots[day] = DaySlots(tuple(t for t in known.slots if t != wanted))
        st.pending_offers = _offers(result.get("alternatives"), day)
        return True
    if outcome.name == GET_SLOTS and calendar_unreachable(outcome):
        c.closed = st.calendar_down = True  # nothing is changed; the engine says so
        return True
    return False


def _apply_change(st: DialogueState, u: Understanding, today: date) -> bool:
    """A turn about the caller's own booking; False when it is about something else."""
    st.change_dropped = False
    c = st.change
    if c is not None and c.closed:
        st.change = c = None
    if u.manage and not (c is not None and c.action == u.manage):
        found = c.found if c is not None else None
        st.change = c = Change(u.manage, found=found,
                               closed=found is not None and u.manage == "check")
        if found is not None and len(found) == 1:
            c.target = found[0]
    if c is None:
        return False
    st.cancelled = st.wants_change = st.changed_after_booking = False
    if u.cancel or (u.no and not (u.has_details or u.manage)
                    and st.expect in (replies.ASK_CONFIRM_CANCEL, replies.ASK_CONFIRM_MOVE,
                                      replies.ASK_WHICH_BOOKING)):
        st.change, st.change_dropped = None, True
        return True
    if c.target is None and c.found:
        c.target = _which(c.found, u)  # not picked: the engine asks again
        return True
    if st.expect in (replies.ASK_CONFIRM_CANCEL, replies.ASK_CONFIRM_MOVE) and u.yes \
            and not u.has_details:
        c.confirmed = True
        return True
    if c.action == "reschedule":  # also before the look-up: "move it to Friday at 2"
        r = c.new
        before = (r.day, r.time, r.part)
        picked = _picked_offer(st, u)
        if picked is not None:
            r.day, r.time, r.alternative = picked.day or r.day, picked.time, None
        else:
            _update_when(r, u, today)
        if (r.day, r.time, r.part) != before:
            c.confirmed = False
    return True


def _appointment_id(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None


def _move_the_new_booking(st: DialogueState, u: Understanding, today: date) -> None:
    """"Actually, make it 4" once booked: move the booking just made (same day unless
    another is named), read back and confirmed like any move."""
    last = st.bookings[-1]
    assert last.id is not None
    held = Held(last.id, last.day, last.time)
    st.changed_after_booking = False
    st.change = Change("reschedule", found=(held,), target=held)
    _apply_change(st, u, today)
    if st.change.new.day is None:
        st.change.new.day = last.day


def _which(found: tuple[Held, ...], u: Understanding) -> Held | None:
    """The booking a caller picked from the ones we listed: "the first", "Friday's", "at 3"."""
    if u.choice is not None and u.choice < len(found):
        return found[u.choice]
    matches = [h for h in found
               if (u.day is None or h.day == u.day)
               and (u.time is None or h.time in u.time.readings())]
    return matches[0] if len(matches) == 1 and (u.day or u.time) else None


def _picked_offer(st: DialogueState, u: Understanding) -> Offer | None:
    if not st.offers:
        return None
    if u.choice is not None:
        return st.offers[u.choice]
    if u.time is not None:
        for offer in st.offers:
            if offer.time in u.time.readings() and (u.day is None or offer.day in (None, u.day)):
                return offer
        return None
    if (u.yes and not u.no and len(st.offers) == 1 and st.expect == replies.ASK_TIME
            and not u.has_details):
        return st.offers[0]
    return None


def _apply_user(st: DialogueState, u: Understanding, today: date) -> None:
    st.cancelled = st.wants_change = st.changed_after_booking = False
    if st.message is not None and _apply_message(st, u):
        return
    if st.expect == replies.ASK_TAKE_MESSAGE and u.yes and not u.no and not u.has_details:
        st.message = MessageDraft()
    if u.message and st.message is None:
        st.message = MessageDraft()
    if u.cancel:
        st.cancelled, st.request = True, None
        return
    name_changed = _apply_name(st, u)
    picked = _picked_offer(st, u)
    wants = st.expect == replies.ASK_WANT_BOOKING and u.yes and not u.no
    if st.request is None and (u.book or u.availability or u.has_details or picked or wants):
        if u.out_of_scope and not (u.has_details or picked):
            return  # "how much is a cleaning?" asks a price, not for a booking
        if st.bookings and u.correction and not (u.book or u.availability):
            st.changed_after_booking = True  # "actually, make it 4" after the read-back
            return
        if u.question and not (u.book or u.time or picked):
            return  # "are you open on Saturday?" asks the hours, not for a booking
        st.request = Request(check_only=u.availability and not u.book)
    r = st.request
    if r is None:
        return
    if u.book:
        r.check_only = False
    before = (r.day, r.time, r.part)
    if picked is not None:
        r.day, r.time, r.alternative = picked.day or r.day, picked.time, None
    else:
        _update_when(r, u, today)
    if name_changed or (r.day, r.time, r.part) != before:
        r.confirmed = False
    elif st.expect == replies.ASK_CONFIRM:
        if u.no and (u.has_details or u.name or u.spelled):
            r.confirmed = False  # "no, 11 am" for what the read-back already says: ask again
        elif u.no:
            st.wants_change = True
            r.confirmed = False
        elif u.yes:
            r.confirmed = True


def _apply_name(st: DialogueState, u: Understanding) -> bool:
    """Take a name, a corrected name or a spelling from the turn; whether the name changed."""
    if u.name_unclear and not st.spell_asked:
        st.needs_spelling = True  # "my name is on the little piz": ask them to spell it
        return False
    if not (u.name or u.spelled):
        return False
    name = corrected(st.name if st.name else None, u.name, list(u.spelled))
    if not name or name == st.name:
        st.needs_spelling = False if name else st.needs_spelling
        return False
    if not u.spelled and not plausible(name) and not st.spell_asked:
        # "Game", "Work": recognition put a word in place of a name it did not know.
        st.needs_spelling = True
        return False
    st.name, st.needs_spelling = name, False
    return True


_PHONE_DIGITS = re.compile(r"(?:\+?\d[\d\s().-]{8,}\d)")


def _apply_message(st: DialogueState, u: Understanding) -> bool:
    """A turn answering one of the message questions; False when it answered none."""
    m = st.message
    assert m is not None
    if st.expect == replies.ASK_NAME and (u.name or u.spelled):
        _apply_name(st, u)
        return True
    if st.expect == replies.ASK_SPELL:
        _apply_name(st, u)
        return True
    if st.expect == replies.ASK_MESSAGE and not u.empty:
        m.body = " ".join(u.text.split())
        return True
    if st.expect == replies.ASK_CALLBACK:
        number = _PHONE_DIGITS.search(u.text)
        if number:
            m.phone, m.callback_settled = number[0], True
        elif u.no:
            m.asked_number = True
        elif u.yes:
            m.callback_settled = True
        else:
            return False
        return True
    if st.expect == replies.ASK_NUMBER:
        number = _PHONE_DIGITS.search(u.text)
        if number:
            m.phone, m.callback_settled = number[0], True
            return True
    return False


def _update_when(r: Request, u: Understanding, today: date) -> None:
    if u.day:
        r.day = u.day
    elif u.day_shift:
        # "the day after (instead, same time)": from the day being discussed
        r.day = (r.day or today) + timedelta(days=u.day_shift)
    if u.part_of_day:
        r.part = u.part_of_day
        if u.time is None and r.time and not in_part_of_day(r.time, r.part):
            r.time = r.alternative = None
    if u.time:
        r.time, r.alternative = u.time.value, u.time.alternative
        # A part of day said earlier ("Friday afternoon" ... "at 3") settles the hour.
        if (r.alternative and r.part and not in_part_of_day(r.time, r.part)
                and in_part_of_day(r.alternative, r.part)
                and _PLAUSIBLE[0] <= r.alternative <= _PLAUSIBLE[1]):
            r.time, r.alternative = r.alternative, r.time


def spread(slots: Iterable[time], count: int = 3) -> list[time]:
    """Up to `count` slots spread across the list: first, middle, last."""
    items = list(slots)
    if len(items) <= count:
        return items
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def nearest(slots: Iterable[time], wanted: time, count: int = 2) -> list[time]:
    minutes = wanted.hour * 60 + wanted.minute
    ranked = sorted(slots, key=lambda t: (abs(t.hour * 60 + t.minute - minutes), t))
    return sorted(ranked[:count])
