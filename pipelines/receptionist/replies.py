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
ASK_SPELL = "spell"
ASK_MESSAGE = "message"              # what to pass on
ASK_CALLBACK = "callback"            # call back on the caller's number?
ASK_NUMBER = "number"                # which number, then
ASK_TAKE_MESSAGE = "take_message"    # shall I take a message?
ASK_WANT_BOOKING = "want_booking"    # would you like to book?
ASK_WHICH_BOOKING = "which_booking"  # which of your appointments?
ASK_CONFIRM_CANCEL = "confirm_cancel"
ASK_CONFIRM_MOVE = "confirm_move"

# Marker phrase → prompt kind, checked in this order.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("shall i cancel it", ASK_CONFIRM_CANCEL),
    ("shall i move it", ASK_CONFIRM_MOVE),
    ("which appointment", ASK_WHICH_BOOKING),
    ("shall i book it", ASK_CONFIRM),
    ("say yes to book it", ASK_CONFIRM),
    ("was that a yes", ASK_CONFIRM),
    ("spell", ASK_SPELL),
    ("what would you like me to pass on", ASK_MESSAGE),
    ("what should i tell them", ASK_MESSAGE),
    ("call you back on the number", ASK_CALLBACK),
    ("what number should we call", ASK_NUMBER),
    ("would you like to leave a message", ASK_TAKE_MESSAGE),
    ("would you like to leave one", ASK_TAKE_MESSAGE),
    ("would you like to book", ASK_WANT_BOOKING),
    ("what would you like to change", ASK_CHANGE),
    ("your name", ASK_NAME),
    ("anything else", ASK_ANYTHING_ELSE),
    ("which time", ASK_TIME),
    ("what time", ASK_TIME),
    ("other time", ASK_TIME),
    ("would one of those work", ASK_TIME),
    ("would that work", ASK_TIME),
    ("what day", ASK_DAY),
    ("which day", ASK_DAY),
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

TAKE_MESSAGE_OFFER = "Would you like to leave a message?"
DONT_KNOW = "I don't know that, but I can take a message."
REFUSALS = {
    "prices": DONT_KNOW,
    "location": DONT_KNOW,
    "services": DONT_KNOW,
    "weather": DONT_KNOW,
    "other": DONT_KNOW,
    "bot": "I'm the automated receptionist. " + CAN_DO,
    "human": "I can't transfer calls on this line, but I can take a message.",
    "existing": "I can't change or cancel existing appointments on this line, but I can take "
                "a message or book a new one for you.",
}
# The same, for a line that cannot take messages (no take_message tool).
REFUSALS_NO_MESSAGE = {
    "human": "I can't transfer calls on this line, but I can book you an appointment.",
    "existing": "I can't change or cancel existing appointments on this line, but I can book "
                "a new one for you.",
}
CANT_HELP = "I'm afraid I can't help with that on this line. " + CAN_DO
# What the caller is asked next when a refusal ends a turn with nothing else going on.
AFTER_REFUSAL = {"bot": HOW_CAN_I_HELP, "existing": TAKE_MESSAGE_OFFER}
LEAVE_ONE = "Would you like to leave one?"
WANT_BOOKING = "Would you like to book an appointment?"


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


ASK_NAME_AGAIN = "Sorry, I didn't get your name. Could you tell me your name, please?"
ASK_SPELLING = "Sorry, I want to get your name right. Could you spell it for me, please?"
ASK_MESSAGE_NAME = "Sure, I'll take a message. Can I have your name, please?"
ASK_MESSAGE_BODY = "What would you like me to pass on?"
ASK_CALLBACK_NUMBER = "Shall we call you back on the number you're calling from?"
ASK_OTHER_NUMBER = "What number should we call you back on?"
WAS_THAT_YES = "Sorry, was that a yes?"
SAY_AGAIN_SHORT = "Sorry, could you say that again?"


def message_taken(name: str | None) -> str:
    thanks = f"Thanks, {first_name(name)}." if name else "Thank you."
    return f"{thanks} I'll pass your message on. {ANYTHING_ELSE}"


def calendar_message_taken(name: str | None, has_callback: bool) -> str:
    """The calendar was down: nothing is booked, and the caller knows who will follow up."""
    thanks = f"Thanks, {first_name(name)}. " if name else ""
    back = (" and someone will call you back on this number to book it"
            if has_callback else " for the office to book it")
    return (f"{thanks}I'm sorry, I can't reach our calendar right now, so I couldn't book that. "
            f"I've taken a message with the time you wanted,{back}. {ANYTHING_ELSE}")


CALENDAR_STILL_DOWN = ("I'm sorry, our calendar still can't be reached, so I can't book or "
                       "check times on this call. I've passed on what you wanted.")


def gave_up(business_name: str) -> str:
    return ("I'm sorry, I'm having trouble understanding. I've taken a message, and someone "
            f"will call you back on this number. Thanks for calling {business_name}. Goodbye!")


def choices_times(day_text: str, times: list[time]) -> str:
    return f"I have {say_times(times)} on {day_text}. Which time, or shall I take a message?"


def choices_days(days: list[str]) -> str:
    return (f"I can book you {' or '.join(days)}. Which day would you like, or shall I take "
            "a message?")


def choices_name(t: time, day_text: str) -> str:
    return (f"I have {say_time(t)} on {day_text} for you, and I just need your name. Please "
            "say your name, or shall I take a message?")


def choices_confirm(day_text: str, t: time, name: str) -> str:
    return (f"I have {day_text} at {say_time(t)} for {name}. Please say yes to book it, or "
            "no to change it.")


CHOICES_GENERAL = ("I can book an appointment, tell you our opening hours, or take a message. "
                   "Which would you like?")


def this_is(business_name: str) -> str:
    return f"This is {business_name}."


def our_number(phone: str) -> str:
    """A phone number read out digit by digit, in the groups people say it in."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    groups = [digits[:3], digits[3:6], digits[6:]] if len(digits) == 10 else [digits]
    return "Our number is " + ", ".join(" ".join(g) for g in groups if g) + "."


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


# --- a caller's own bookings: cancel and move them ---------------------------------------

LEFT_AS_IS = "Okay, I've left your appointment as it is."
NO_NUMBER_FOR_BOOKINGS = ("Sorry, your number is withheld, so I can't look up your "
                          "appointments on this call.")
CANT_FIND_IT = "Sorry, I can't find that appointment any more."
CHANGE_CALENDAR_DOWN = ("Sorry, I can't reach our calendar right now, so I haven't changed "
                        "anything. Please call back a little later.")


def no_bookings(can_book: bool) -> str:
    text = "I can't find an upcoming appointment for the number you're calling from."
    return f"{text} Would you like to book one?" if can_book else f"{text} {ANYTHING_ELSE}"


def at_day(day_text: str, t: time) -> str:
    return f"{day_text} at {say_time(t)}"


def which_booking(spoken: list[str], verb: str) -> str:
    listed = ", ".join(spoken[:-1]) + " and " + spoken[-1] if len(spoken) > 1 else spoken[0]
    return f"I have appointments for you on {listed}. Which appointment would you like to {verb}?"


def your_booking(when: str) -> str:
    return f"You have an appointment on {when}. {ANYTHING_ELSE}"


def confirm_cancel(when: str) -> str:
    return f"You have an appointment on {when}. Shall I cancel it?"


def ask_new_day(when: str) -> str:
    return f"Your appointment is on {when}. What day would you like to move it to?"


def confirm_move(old: str, new: str) -> str:
    return f"To confirm, I'll move your appointment from {old} to {new}. Shall I move it?"


def cancelled_booking(when: str) -> str:
    return f"Done. Your appointment on {when} is cancelled. {ANYTHING_ELSE}"


def moved_booking(when: str) -> str:
    return f"Done. Your appointment is now on {when}. {ANYTHING_ELSE}"


def cannot_cancel(reason: str) -> str:
    return {"in_past": "Sorry, that appointment has already started, so I can't cancel it.",
            "not_found": CANT_FIND_IT}.get(reason, "Sorry, I couldn't cancel that appointment.")
