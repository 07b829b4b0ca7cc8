"""Every tool the agent may be given: name, LLM-facing JSON schema and handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tools import calendar, end_call, messages, messaging, payments, transfer

Handler = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    properties: dict[str, Any]  # JSON-schema properties of the arguments object
    required: list[str]
    handler: Handler  # called as handler(ctx, **arguments)
    # What the LLM hears when the handler fails unexpectedly (details stay in the log).
    unavailable: str = "that action is unavailable right now"

    def function_schema(self) -> dict[str, Any]:
        """OpenAI-style function schema (also what pipecat's FunctionSchema takes)."""
        return {"name": self.name, "description": self.description,
                "parameters": {"type": "object", "properties": self.properties,
                               "required": self.required}}


_DATE = {"type": "string",
         "description": "Day in the business's local calendar, YYYY-MM-DD, e.g. 2026-11-26."}
_CALENDAR_DOWN = "the calendar is unavailable right now"

TOOLS: dict[str, Tool] = {t.name: t for t in (
    Tool(
        name="get_available_slots",
        description="List the free appointment start times on one day, in the business's "
                    "local time (HH:MM, 24-hour). Call this before offering times. When the "
                    "day has none, next_available suggests the next open day's slots.",
        properties={"date": _DATE},
        required=["date"],
        handler=calendar.get_available_slots,
        unavailable=_CALENDAR_DOWN,
    ),
    Tool(
        name="book_appointment",
        description="Book one free slot for the caller after confirming date, time and name "
                    "with them. If it returns booked=false, tell the caller the reason and "
                    "offer the returned alternatives.",
        properties={
            "date": _DATE,
            "time": {"type": "string",
                     "description": "Start time, business's local time, HH:MM 24-hour, "
                                    "e.g. 14:30. Use a time from get_available_slots."},
            "name": {"type": "string", "description": "The caller's full name."},
            "phone": {"type": "string",
                      "description": "Callback number, e.g. +12125550123. Omit to use the "
                                     "number the caller is calling from."},
        },
        required=["date", "time", "name"],
        handler=calendar.book_appointment,
        unavailable=_CALENDAR_DOWN,
    ),
    Tool(
        name="cancel_appointment",
        description="Cancel one of the caller's own upcoming appointments by its id "
                    "(the appointment_id book_appointment returned).",
        properties={"appointment_id": {"type": "integer",
                                       "description": "The appointment's id, e.g. 42."}},
        required=["appointment_id"],
        handler=calendar.cancel_appointment,
        unavailable=_CALENDAR_DOWN,
    ),
    Tool(
        name="find_appointments",
        description="List the caller's own upcoming appointments (matched by the number "
                    "they are calling from), with each appointment_id. Call it before "
                    "cancelling or moving a booking; when there are several, ask the caller "
                    "which one, and confirm before acting.",
        properties={},
        required=[],
        handler=calendar.find_appointments,
        unavailable=_CALENDAR_DOWN,
    ),
    Tool(
        name="reschedule_appointment",
        description="Move one of the caller's own upcoming appointments to another free "
                    "slot, after confirming the new date and time with them. The old time "
                    "is kept unless the new one is booked. If it returns rescheduled=false, "
                    "tell the caller the reason and offer the returned alternatives.",
        properties={
            "appointment_id": {"type": "integer",
                               "description": "The appointment's id, from find_appointments."},
            "date": _DATE,
            "time": {"type": "string",
                     "description": "New start time, business's local time, HH:MM 24-hour. "
                                    "Use a time from get_available_slots."},
        },
        required=["appointment_id", "date", "time"],
        handler=calendar.reschedule_appointment,
        unavailable=_CALENDAR_DOWN,
    ),
    Tool(
        name="take_message",
        description="Take a message for the business when the caller asks to leave one, "
                    "or when you cannot help them: their name, what they want passed on, "
                    "and the number to call back (omit phone to use the number they are "
                    "calling from). Confirm it was taken only when it returns taken=true.",
        properties={
            "message": {"type": "string",
                        "description": "What the caller wants the business to know or do, "
                                       "in their words, e.g. 'Please call back about the "
                                       "invoice.'"},
            "name": {"type": "string", "description": "The caller's name, if they gave it."},
            "phone": {"type": "string",
                      "description": "Callback number, e.g. +12125550123. Omit to use the "
                                     "number the caller is calling from."},
            "reason": {"type": "string", "enum": list(messages.REASONS),
                       "description": "requested (the default): the caller asked to leave "
                                      "it; not_understood: you could not understand them; "
                                      "calendar_unreachable: a calendar tool answered "
                                      "calendar_unreachable, so note the time they wanted."},
        },
        required=["message"],
        handler=messages.take_message,
        unavailable="messages cannot be taken right now",
    ),
    Tool(
        name="end_call",
        description="Hang up the phone. Call it only after you have said goodbye and the "
                    "caller needs nothing else.",
        properties={},
        required=[],
        handler=end_call.end_call,
    ),
    # Not in the enabled_tools column default: a client turns it on, with a transfer number.
    Tool(
        name="transfer_call",
        description="Transfer the caller to a person at the office. Use it when the caller "
                    "asks for a human, the receptionist, the front desk, an operator or the "
                    "manager, or needs something you cannot do. If it returns "
                    "transferring=true, say one short line such as \"I'm transferring you "
                    "now, please hold.\" and nothing else; if transferring=false, tell the "
                    "caller a transfer isn't possible right now and offer what you can do.",
        properties={},
        required=[],
        handler=transfer.transfer_call,
        unavailable="the transfer is unavailable right now",
    ),
    # Opt-in, like transfer_call: a client turns them on.
    Tool(
        name="send_sms",
        description="Text the caller (or another number they give) from the business's "
                    "number, e.g. an address or a summary they asked for. If it returns "
                    "sent=false, tell the caller the reason.",
        properties={
            "body": {"type": "string", "description": "The text, at most 480 characters."},
            "to": {"type": "string", "description": "Number to text, e.g. +12125550123. "
                                                    "Omit to text the caller."},
        },
        required=["body"],
        handler=messaging.send_sms,
        unavailable="texting is unavailable right now",
    ),
    Tool(
        name="send_email",
        description="E-mail the office (omit 'to') with something the caller wants them to "
                    "know, or e-mail the caller at an address they spelled out. If it "
                    "returns sent=false, tell the caller the reason.",
        properties={
            "subject": {"type": "string", "description": "Subject, at most 120 characters."},
            "text": {"type": "string", "description": "The message, at most 2000 characters."},
            "to": {"type": "string", "description": "An e-mail address the caller gave. "
                                                    "Omit to write to the office."},
        },
        required=["subject", "text"],
        handler=messaging.send_email,
        unavailable="e-mail is unavailable right now",
    ),
    # Opt-in too: a business that takes deposits or fees by phone turns them on.
    Tool(
        name="create_payment",
        description="Make a payment link for a deposit or a fee the business asks for, "
                    "after the caller agreed to the amount. It is texted to the caller when "
                    "possible. Say what tell_caller says. If it returns created=false, tell "
                    "the caller the reason (for example that payments cannot be taken on "
                    "this line) and offer to take a message.",
        properties={
            "amount": {"type": "number",
                       "description": "The amount in the business's currency, e.g. 25.00."},
            "description": {"type": "string",
                            "description": "What it pays for, e.g. 'Deposit for the 3 PM "
                                           "cleaning on Tuesday'."},
        },
        required=["amount", "description"],
        handler=payments.create_payment,
        unavailable=payments.UNAVAILABLE,
    ),
    Tool(
        name="get_subscription",
        description="Look up the caller's own membership or subscription with the business "
                    "(found by the number they are calling from): its name, status and when "
                    "it renews or ends. If found=false, tell the caller the reason.",
        properties={},
        required=[],
        handler=payments.get_subscription,
        unavailable="memberships cannot be looked up right now",
    ),
)}

KNOWN_TOOLS: frozenset[str] = frozenset(TOOLS)


def get(name: str) -> Tool | None:
    return TOOLS.get(name)


def tools_for(enabled: list[str]) -> list[Tool]:
    """The client's enabled tools in its order; unknown or repeated names are skipped."""
    return [TOOLS[name] for name in dict.fromkeys(enabled) if name in TOOLS]
