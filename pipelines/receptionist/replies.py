"""What the receptionist says: short spoken sentences, and how to recognise its own questions.

Replies are read by a TTS voice over the phone, so they avoid lists, symbols and
digits that read badly ("3 PM", not "15:00"). Each question carries a marker phrase
so the engine can tell, from the context alone, what the caller was last asked;
if barge-in cut a reply before its question, the marker is missing and the
caller's answer is not taken as an answer to it.
"""

from __future__ import annotations

import re
from datetime import date, time

# Prompt kinds: what the last reply asked for.
ASK_DAY = "day"
ASK_TIME = "time"
ASK_NAME = "name"
ASK_CONFIRM = "confirm"
ASK_ANYTHING_ELSE = "anything_else"
ASK_CHANGE = "change"

# Marker phrase → prompt kind, checked in this order.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("shall i book it", ASK_CONFIRM),
    ("what would you like to change", ASK_CHANGE),
    ("your name", ASK_NAME),
    ("anything else", ASK_ANYTHING_ELSE),
    ("which time", ASK_TIME),
    ("what time", ASK_TIME),
    ("other time", ASK_TIME),
    ("would one of those work", ASK_TIME),
    ("would that work", ASK_TIME),
    ("what day", ASK_DAY),
    ("other day", ASK_DAY),
)

ANYTHING_ELSE = "Is there anything else I can help with?"
HOW_CAN_I_HELP = "How can I help you today?"
DIDNT_CATCH = "Sorry, I didn't catch that."
SAY_AGAIN = "Could you say that again?"
CAN_DO = "I can book an appointment or check availability for you."
CALENDAR_DOWN = "Sorry, I can't reach the calendar right now. Please call back a little later."
BOOKING_FAILED = "Sorry, I couldn't make that booking just now. Please call back a little later."
WHAT_TO_CHANGE = "No problem. What would you like to change: the day, the time, or the name?"
CANCELLED = "Okay, I won't book that."
TRANSFERRING = "Sure, I'm transferring you now. Please hold."
TRANSFER_FAILED = ("Sorry, I can't transfer your call right now, but I can book an appointment "
                   "or check availability for you. " + ANYTHING_ELSE)
KEYPAD = "Sorry, I can't use the keypad on this line."
SAY_WHAT_YOU_NEED = "Please just tell me what you need."

REFUSALS = {
    "prices": "I can't help with prices on this line, but I can book you an appointment.",
    "hours": "I can't give our opening hours on this line, but I can check a specific day "
             "for you.",
    "location": "I can't help with directions on this line, but I can book you an "
                "appointment.",
    "bot": "I'm the automated receptionist. " + CAN_DO,
    "human": "I can't transfer calls on this line, but I can book you an appointment.",
    "messages": "I can't take messages on this line, but I can book you an appointment.",
    "existing": "I can't change or cancel existing appointments on this line, but I can book "
                "a new one for you.",
    "services": "I can't answer questions about our services on this line, but I can book "
                "you an appointment.",
    "other": "Sorry, I can't help with that on this line. " + CAN_DO,
}


def prompt_kind(text: str) -> str | None:
    """What one of our replies asked the caller for, judged by its marker phrase."""
    lowered = text.lower()
    for marker, kind in _MARKERS:
        if marker in lowered:
            return kind
    return None


def say_time(t: time) -> str:
    """3 PM, 9:30 AM, noon."""
    if t == time(12, 0):
        return "noon"
    hour = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


def say_day(d: date, today: date) -> str:
    """Thursday, November 26 (with the year when it is far off)."""
    text = f"{d:%A}, {d:%B} {d.day}"
    return f"{text}, {d.year}" if (d - today).days > 180 else text


def say_times(times: list[time] | tuple[time, ...]) -> str:
    """9 AM, 11 AM or 2 PM."""
    spoken = [say_time(t) for t in times]
    if len(spoken) <= 1:
        return "".join(spoken)
    return ", ".join(spoken[:-1]) + " or " + spoken[-1]


def first_name(name: str) -> str:
    """How to address the caller: "Ana" for Ana Lopez, but "Dr. Smith" stays whole."""
    parts = name.split()
    if not parts:
        return name
    if parts[0].rstrip(".").lower() in {"dr", "mr", "mrs", "ms", "miss", "mx", "prof"}:
        return name
    return parts[0]


def greeting(business_name: str, initial_greeting: str | None) -> str:
    if initial_greeting and initial_greeting.strip():
        return initial_greeting.strip()
    return f"Thank you for calling {business_name}. {HOW_CAN_I_HELP}"


def goodbye(business_name: str) -> str:
    return f"Thanks for calling {business_name}. Goodbye!"


def ask_day(*, has_time: bool, check_only: bool) -> str:
    if check_only:
        return "What day would you like me to check?"
    return "What day would you like that for?" if has_time else \
        "What day would you like to come in?"


def offer(day_text: str, times: list[time], *, part: str | None, part_empty: bool) -> str:
    question = "Would that work?" if len(times) == 1 else "Which time works for you?"
    if part_empty:
        return (f"Sorry, I don't have anything in the {part} on {day_text}. "
                f"I have {say_times(times)}. {question}")
    return f"On {day_text}, I have {say_times(times)}. {question}"


def unavailable(wanted: time, day_text: str, nearest: list[time]) -> str:
    question = "Would that work?" if len(nearest) == 1 else "Would one of those work?"
    closest = "The closest time is" if len(nearest) == 1 else "The closest times are"
    return (f"Sorry, {say_time(wanted)} isn't available on {day_text}. "
            f"{closest} {say_times(nearest).replace(' or ', ' and ')}. {question}")


def which_time(times: list[time]) -> str:
    return f"Which time would you like, {say_times(times)}?"


def closed(day_text: str) -> str:
    return f"Sorry, we're closed on {day_text}."


def fully_booked(day_text: str) -> str:
    return f"Sorry, {day_text} is fully booked."


OTHER_DAY = "What other day works for you?"
OTHER_TIME = "What other time works for you?"


def next_opening(day_text: str, times: list[time]) -> str:
    question = "Would that work?" if len(times) == 1 else "Would one of those work?"
    return f"The next opening is {day_text}, at {say_times(times)}. {question}"


def alternatives_same_day(times: list[time]) -> str:
    question = "Would that work?" if len(times) == 1 else "Would one of those work?"
    return f"I can do {say_times(times)}. {question}"


def ask_name(t: time, day_text: str) -> str:
    return f"{say_time(t)} on {day_text} is available. Can I have your name, please?"


def confirm(day_text: str, t: time, name: str) -> str:
    return f"Let me confirm: {day_text} at {say_time(t)}, for {name}. Shall I book it?"


def booked(day_text: str, t: time, name: str) -> str:
    return f"You're booked for {day_text} at {say_time(t)}, {first_name(name)}. {ANYTHING_ELSE}"


def already_booked(day_text: str, t: time) -> str:
    return (f"You're already booked for {day_text} at {say_time(t)}. I can't change a booking "
            f"on this line. {ANYTHING_ELSE}")


def refused(reason: str, t: time | None, day_text: str) -> str:
    at = say_time(t) if t else "that time"
    return {
        "slot_taken": f"Sorry, {at} was just taken.",
        "outside_hours": f"Sorry, {at} is outside our opening hours.",
        "in_past": f"Sorry, {at} has already passed.",
        "closed": closed(day_text),
    }.get(reason, "Sorry, I couldn't book that time.")


_ABBREVIATION = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|St)\.$")


def sentences(text: str) -> list[str]:
    """Split a reply into sentences, each but the last keeping its trailing space."""
    parts: list[str] = []
    for piece in re.split(r"(?<=[.!?])\s+", text.strip()):
        if parts and _ABBREVIATION.search(parts[-1]):
            parts[-1] = f"{parts[-1]} {piece}"  # "Dr." does not end a sentence
        elif piece:
            parts.append(piece)
    return [p + " " for p in parts[:-1]] + parts[-1:]
