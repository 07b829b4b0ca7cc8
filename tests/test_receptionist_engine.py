"""The receptionist dialogue engine, driven with OpenAI-format context messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from pipelines.receptionist import replies
from pipelines.receptionist.engine import (
    TOOL_NAMES,
    Action,
    ClientFacts,
    ReceptionistEngine,
    ToolCall,
)
from tests.engine_talk import ENGINE, GREETING, NOW, TZ, EngineTalk

ALL_DAY = [f"{h:02d}:{m:02d}" for h in range(8, 19) for m in (0, 15, 30, 45)]

Calendar = Callable[[str, dict[str, Any]], dict[str, Any]]


def open_calendar(slots: list[str] = ALL_DAY) -> Calendar:
    """Every slot free on weekdays and Saturday; closed on Sunday; bookings succeed."""

    def calendar(name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "get_available_slots":
            day = date.fromisoformat(args["date"])
            if day.weekday() == 6:
                return {"date": args["date"], "weekday": "Sunday", "slots": [], "closed": True,
                        "next_available": [{"date": "2026-11-30", "time": "09:00"},
                                           {"date": "2026-11-30", "time": "09:30"}]}
            return {"date": args["date"], "weekday": f"{day:%A}", "slots": list(slots)}
        if name == "book_appointment":
            return {"booked": True, "appointment_id": 7, **args}
        if name == "take_message":
            return {"taken": True, "message_id": 3, "name": args.get("name"),
                    "callback_phone": "+15005550006"}
        return {"ok": True}

    return calendar


class Conversation(EngineTalk):
    """A call whose tool calls are answered by `calendar`."""

    def __init__(self, calendar: Calendar | None = None, *, greet: bool = True) -> None:
        self.calendar = calendar or open_calendar()
        super().__init__(greet=greet)

    def answer(self, call: ToolCall) -> str:
        return json.dumps(self.calendar(call.name, call.arguments))

    @property
    def last_said(self) -> str:
        return self.said[-1]

    def cut_off(self, heard: str = "") -> None:
        """The caller talked over the last reply: keep only what they heard, as Pipecat does."""
        index = max(i for i, m in enumerate(self.messages)
                    if m["role"] == "assistant" and "content" in m)
        if heard:
            self.messages[index]["content"] = heard
        else:
            del self.messages[index]

    def booked_with(self) -> dict[str, Any] | None:
        books = [c.arguments for c in self.tool_calls if c.name == "book_appointment"]
        return books[-1] if books else None


def first_move(text: str) -> Action | None:
    return ENGINE.next_action(
        [{"role": "assistant", "content": GREETING}, {"role": "user", "content": text}], NOW)


def complete_booking(conv: Conversation, first: str, *, name: str = "Ana Lopez") -> None:
    """Say `first`, then answer the engine's questions until it books."""
    books_before = [c for c in conv.tool_calls if c.name == "book_appointment"]
    action = conv.caller(first)
    for _ in range(4):
        if [c for c in conv.tool_calls if c.name == "book_appointment"] != books_before:
            return
        kind = replies.prompt_kind(action.say if action else "")
        if kind == replies.ASK_NAME:
            action = conv.caller(name)
        elif kind == replies.ASK_CONFIRM:
            action = conv.caller("Yes, please.")
        else:
            raise AssertionError(f"unexpected reply: {conv.last_said!r}")
    raise AssertionError("never booked")


# --- first move: which tool with which arguments --------------------------------------------

@pytest.mark.parametrize(("caller", "day"), [
    ("I'd like to book an appointment tomorrow at 3", "2026-11-26"),
    ("Can I come in next Friday morning?", "2026-11-27"),
    ("Do you have anything on the 14th?", "2026-12-14"),
    ("Is Monday at 2 available?", "2026-11-30"),
    ("What times do you have on Saturday?", "2026-11-28"),
    ("December 3rd at 10:30 please", "2026-12-03"),
    ("The day after tomorrow at 10, if possible.", "2026-11-27"),
    ("Anything in two days?", "2026-11-27"),
    ("Could I get an appointment on 12/2 at 4:30 pm?", "2026-12-02"),
    ("Tuesday the first of December works for me", "2026-12-01"),
    ("Friday next week, please", "2026-12-04"),
    ("I can come in, but not Thursday, Friday would be better", "2026-11-27"),
    ("Is there anything this Wednesday at 4?", "2026-11-25"),
    ("I'd like to book something a week from today", "2026-12-02"),
    ("Hi, this is Maria Garcia, I want an appointment tomorrow", "2026-11-26"),
])
def test_a_named_day_is_looked_up_in_the_calendar(caller: str, day: str):
    assert first_move(caller) == Action(tool_call=ToolCall("get_available_slots", {"date": day}))


@pytest.mark.parametrize(("caller", "start"), [
    ("How much does a cleaning cost?", "I don't know that, but I can take a message."),
    ("Where are you located?", "I don't know that, but I can take a message."),
    ("Can I speak to a real person?", "I can't transfer calls on this line, but I can take"),
    ("I need to cancel my appointment", "I can't change or cancel existing appointments"),
    ("Do you take my insurance?", "I don't know that, but I can take a message."),
    ("What's the weather like over there?", "I don't know that, but I can take a message."),
])
def test_what_it_cannot_do_is_refused_honestly(caller: str, start: str):
    action = first_move(caller)
    assert action is not None and action.tool_call is None
    assert action.say.startswith(start)


@pytest.mark.parametrize("caller", [
    "Goodbye!", "That's all, thanks.", "Okay, bye bye.", "No thanks, have a good day",
    "Nothing else, I'm all set.",
])
def test_goodbye_says_goodbye_then_ends_the_call(caller: str):
    action = first_move(caller)
    assert action == Action(say="Thanks for calling Bright Smile Dental. Goodbye!",
                            tool_call=ToolCall("end_call", {}))
    assert action.ends_call


@pytest.mark.parametrize("caller", ["", "   ", "um", "[inaudible]", "(static) uh"])
def test_unintelligible_input_gets_a_short_reprompt(caller: str):
    assert first_move(caller) == Action(say="Sorry, I didn't catch that. Could you say that again?")


@pytest.mark.parametrize(("caller", "kind", "text"), [
    ("I'd like to make an appointment", replies.ASK_DAY, "What day would you like to come in?"),
    ("Can I book something at 3 p.m.?", replies.ASK_DAY, "What day would you like that for?"),
    ("Do you have any openings?", replies.ASK_DAY, "What day would you like me to check?"),
    ("Never mind.", replies.ASK_ANYTHING_ELSE,
     "Okay, I won't book that. Is there anything else I can help with?"),
    ("My name is Ana Lopez", None, "Thanks, Ana. How can I help you today?"),
    ("Hello?", None, "Hi! How can I help you today?"),
])
def test_missing_pieces_are_asked_for(caller: str, kind: str | None, text: str):
    action = first_move(caller)
    assert action == Action(say=text)
    assert replies.prompt_kind(action.say) == kind


# --- days and times, all the way to the booking ---------------------------------------------

@pytest.mark.parametrize(("caller", "day", "time"), [
    ("I'd like an appointment tomorrow at 3", "2026-11-26", "15:00"),
    ("Tomorrow at 3 p.m. please", "2026-11-26", "15:00"),
    ("Friday at 10", "2026-11-27", "10:00"),
    ("Monday at half past two", "2026-11-30", "14:30"),
    ("Can I come in tomorrow at noon?", "2026-11-26", "12:00"),
    ("The 14th at 9:45", "2026-12-14", "09:45"),
    ("Thursday at quarter to five", "2026-11-26", "16:45"),
    ("Friday at three thirty in the afternoon", "2026-11-27", "15:30"),
    ("Tomorrow at 5 o'clock", "2026-11-26", "17:00"),
    ("December third at ten fifteen", "2026-12-03", "10:15"),
    ("Tomorrow at 11", "2026-11-26", "11:00"),
    ("Friday afternoon at 2", "2026-11-27", "14:00"),
    ("Thursday morning at 10:30", "2026-11-26", "10:30"),
    ("Book me tomorrow at one", "2026-11-26", "13:00"),
    ("Tomorrow at 13:15", "2026-11-26", "13:15"),
    ("Next Monday at 9 in the morning", "2026-11-30", "09:00"),
    ("Can we do Thursday at 2.30?", "2026-11-26", "14:30"),
])
def test_books_the_day_and_time_the_caller_said(caller: str, day: str, time: str):
    conv = Conversation()
    complete_booking(conv, caller)
    assert conv.booked_with() == {"date": day, "time": time, "name": "Ana Lopez"}
    assert conv.last_said.startswith("You're booked for ")


def test_an_ambiguous_hour_is_settled_by_the_free_slots():
    conv = Conversation(open_calendar(["18:00", "19:00", "19:30"]))  # an evening clinic
    complete_booking(conv, "Tomorrow at 7")
    assert conv.booked_with() == {"date": "2026-11-26", "time": "19:00", "name": "Ana Lopez"}


@pytest.mark.parametrize(("answer", "name"), [
    ("Ana Lopez", "Ana Lopez"),
    ("It's John.", "John"),
    ("This is Dr. Smith", "Dr. Smith"),
    ("My name is Mary-Jane O'Brien", "Mary-Jane O'Brien"),
    ("sure, it's bob", "Bob"),
    ("I'm Carlos Mendez", "Carlos Mendez"),
    ("Yeah, Priya.", "Priya"),
    ("Ana Lopez, L-O-P-E-Z", "Ana Lopez"),
])
def test_names(answer: str, name: str):
    conv = Conversation()
    conv.caller("Tomorrow at 3")
    assert replies.prompt_kind(conv.last_said) == replies.ASK_NAME
    conv.caller(answer)
    assert conv.last_said == f"Let me confirm: Thursday, November 26 at 3 PM, for {name}. " \
                             "Shall I book it?"


def test_a_name_given_up_front_is_not_asked_again():
    conv = Conversation()
    conv.caller("Hi, my name is Ana Lopez and I'd like to come in Friday at 10.")
    assert conv.last_said == ("Let me confirm: Friday, November 27 at 10 AM, for Ana Lopez. "
                              "Shall I book it?")


# --- whole conversations ---------------------------------------------------------------------

def test_happy_path_from_greeting_to_hang_up():
    conv = Conversation()
    assert conv.said == [GREETING]
    conv.caller("Hi, I'd like to book an appointment tomorrow at 3")
    assert conv.tool_calls == [ToolCall("get_available_slots", {"date": "2026-11-26"})]
    assert conv.last_said == ("3 PM on Thursday, November 26 is available. "
                              "Can I have your name, please?")
    conv.caller("My name is Ana Lopez")
    assert conv.last_said == ("Let me confirm: Thursday, November 26 at 3 PM, for Ana Lopez. "
                              "Shall I book it?")
    assert conv.booked_with() is None  # nothing is booked before the caller says yes
    conv.caller("Yes please")
    assert conv.tool_calls[-1] == ToolCall(
        "book_appointment", {"date": "2026-11-26", "time": "15:00", "name": "Ana Lopez"})
    assert conv.last_said == ("You're booked for Thursday, November 26 at 3 PM, Ana. "
                              "Is there anything else I can help with?")
    action = conv.caller("No, that's all, thanks")
    assert action is not None and action.ends_call
    assert conv.tool_calls[-1] == ToolCall("end_call", {})
    assert conv.bot() is None  # after end_call's result there is nothing more to say


def test_slot_taken_offers_alternatives_and_books_the_pick():
    def calendar(name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "book_appointment" and args["time"] == "14:00":
            return {"booked": False, "reason": "slot_taken", "date": args["date"],
                    "time": "14:00", "alternatives": [{"date": args["date"], "time": "14:30"},
                                                      {"date": args["date"], "time": "15:00"}]}
        return open_calendar()(name, args)

    conv = Conversation(calendar)
    conv.caller("Book me for Monday at 2, I'm Bob")
    conv.caller("Yes")
    assert conv.last_said == ("Sorry, 2 PM was just taken. I can do 2:30 PM or 3 PM. "
                              "Would one of those work?")
    assert "booked" not in conv.last_said.lower()
    conv.caller("The second one")
    assert conv.last_said == ("Let me confirm: Monday, November 30 at 3 PM, for Bob. "
                              "Shall I book it?")
    conv.caller("Correct")
    assert conv.booked_with() == {"date": "2026-11-30", "time": "15:00", "name": "Bob"}


def test_legacy_alternatives_as_plain_times():
    def calendar(name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "book_appointment" and args["time"] == "15:00":
            return {"booked": False, "reason": "slot_taken", "alternatives": ["10:00", "16:00"]}
        return open_calendar()(name, args)

    conv = Conversation(calendar)
    conv.caller("Tomorrow at 3, my name is Ana")
    conv.caller("yes")
    assert conv.last_said == ("Sorry, 3 PM was just taken. I can do 10 AM or 4 PM. "
                              "Would one of those work?")
    complete_booking(conv, "4 is fine")
    assert conv.booked_with() == {"date": "2026-11-26", "time": "16:00", "name": "Ana"}


@pytest.mark.parametrize(("correction", "readback"), [
    ("No, make it 4", "Thursday, November 26 at 4 PM, for Ana Lopez"),
    ("Actually Friday instead", "Friday, November 27 at 3 PM, for Ana Lopez"),
    ("Sorry, my name is Bob", "Thursday, November 26 at 3 PM, for Bob"),
    ("No wait, Friday at half past ten", "Friday, November 27 at 10:30 AM, for Ana Lopez"),
])
def test_correction_after_read_back(correction: str, readback: str):
    conv = Conversation()
    conv.caller("Tomorrow at 3 please")
    conv.caller("Ana Lopez")
    conv.caller(correction)
    assert conv.last_said == f"Let me confirm: {readback}. Shall I book it?"
    assert conv.booked_with() is None
    conv.caller("Yes")
    assert conv.last_said.startswith("You're booked for ")


@pytest.mark.parametrize("answer", ["Yes, thanks, bye!", "That's it.", "Yep, go ahead"])
def test_yes_to_the_read_back_books_before_anything_else(answer: str):
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller(answer)
    assert conv.booked_with() == {"date": "2026-11-27", "time": "09:00", "name": "John"}
    assert conv.last_said.startswith("You're booked for Friday, November 27 at 9 AM, John.")


def test_no_to_the_read_back_asks_what_to_change():
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller("No")
    assert conv.last_said == replies.WHAT_TO_CHANGE
    conv.caller("The time, 11 please")
    assert conv.last_said == ("Let me confirm: Friday, November 27 at 11 AM, for John. "
                              "Shall I book it?")


def test_closed_day_offers_the_next_opening():
    conv = Conversation()
    conv.caller("Can I come in on Sunday?")
    assert conv.last_said == ("Sorry, we're closed on Sunday, November 29. The next opening is "
                              "Monday, November 30, at 9 AM or 9:30 AM. Would one of those work?")
    complete_booking(conv, "9:30 works", name="Dr. Smith")
    assert conv.booked_with() == {"date": "2026-11-30", "time": "09:30", "name": "Dr. Smith"}


def test_part_of_day_narrows_the_offer_and_a_pick_is_understood():
    conv = Conversation(open_calendar(["09:00", "10:00", "13:00", "14:00", "15:30", "16:30"]))
    conv.caller("Do you have anything Thursday afternoon?")
    assert conv.last_said == ("On Thursday, November 26, I have 1 PM, 3:30 PM or 4:30 PM. "
                              "Which time works for you?")
    conv.caller("The last one")
    assert conv.last_said == ("4:30 PM on Thursday, November 26 is available. "
                              "Can I have your name, please?")


def test_an_unavailable_time_offers_the_nearest():
    conv = Conversation(open_calendar(["09:00", "14:30", "15:30", "17:00"]))
    conv.caller("Tomorrow at 3")
    assert conv.last_said == ("Sorry, 3 PM isn't available on Thursday, November 26. The closest "
                              "times are 2:30 PM and 3:30 PM. Would one of those work?")
    complete_booking(conv, "Half past three then")
    assert conv.booked_with() == {"date": "2026-11-26", "time": "15:30", "name": "Ana Lopez"}


def test_cancelling_the_request_in_progress():
    conv = Conversation()
    conv.caller("Tomorrow at 3")
    conv.caller("Cancel that")
    assert conv.last_said == "Okay, I won't book that. Is there anything else I can help with?"
    conv.caller("Yes, actually, Friday at 10")
    assert replies.prompt_kind(conv.last_said) == replies.ASK_NAME
    assert "Friday, November 27" in conv.last_said


def test_a_change_after_booking_is_not_faked():
    conv = Conversation()
    complete_booking(conv, "Tomorrow at 3")
    conv.caller("Actually, make it 4")
    assert conv.last_said == ("You're already booked for Thursday, November 26 at 3 PM. I can't "
                              "change a booking on this line. "
                              "Is there anything else I can help with?")
    assert len([c for c in conv.tool_calls if c.name == "book_appointment"]) == 1


def test_a_change_after_booking_moves_that_booking_where_the_line_can():
    conv = Conversation(managing_calendar())
    conv.tools = TOOL_NAMES
    complete_booking(conv, "Tomorrow at 3")
    conv.caller("Actually, make it 4")
    assert conv.last_said == ("To confirm, I'll move your appointment from Thursday, November 26"
                              " at 3 PM to Thursday, November 26 at 4 PM. Shall I move it?")
    assert [c.name for c in conv.tool_calls].count("reschedule_appointment") == 0
    conv.caller("Yes")
    moves = [c.arguments for c in conv.tool_calls if c.name == "reschedule_appointment"]
    assert moves == [{"appointment_id": 7, "date": "2026-11-26", "time": "16:00"}]
    assert conv.last_said == ("Done. Your appointment is now on Thursday, November 26 at 4 PM."
                              " Is there anything else I can help with?")
    assert len([c for c in conv.tool_calls if c.name == "book_appointment"]) == 1


def managing_calendar() -> Calendar:
    """open_calendar, and moves succeed as the reschedule tool answers them."""
    base = open_calendar()

    def calendar(name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "reschedule_appointment":
            return {"rescheduled": True, "appointment_id": args["appointment_id"],
                    "date": args["date"], "time": args["time"],
                    "previous": {"date": "2026-11-26", "time": "15:00"}}
        return base(name, args)

    return calendar


@pytest.mark.parametrize("result", [
    {"error": "the calendar is unavailable right now"},
    {"booked": False, "reason": "in_past", "alternatives": []},
    "The function `book_appointment` failed and returned no result.",
])
def test_never_says_booked_without_a_confirmed_booking(result: Any):
    def calendar(name: str, args: dict[str, Any]) -> Any:
        return result if name == "book_appointment" else open_calendar()(name, args)

    conv = Conversation(calendar)
    conv.caller("Tomorrow at 3, this is Ana")
    conv.caller("Yes")
    assert conv.tool_calls[-1].name == "book_appointment"
    assert "booked" not in conv.last_said.lower()
    assert conv.last_said.startswith("Sorry")


def test_calendar_error_on_lookup_is_admitted():
    conv = Conversation(lambda name, args: {"error": "the calendar is unavailable right now"})
    conv.caller("Friday at 10")
    assert conv.last_said == ("Sorry, I can't reach the calendar right now. Please call back a "
                              "little later. Is there anything else I can help with?")


def test_refusal_mid_booking_repeats_the_question():
    conv = Conversation()
    conv.caller("Tomorrow at 3")
    conv.caller("How much is a cleaning?")
    assert conv.last_said == ("I don't know that, but I can take a message. 3 PM on Thursday, "
                              "November 26 is available. Can I have your name, please?")


def test_unclear_answer_mid_booking_reasks():
    conv = Conversation()
    conv.caller("Tomorrow at 3")
    conv.caller("[inaudible]")
    assert conv.last_said == ("Sorry, I didn't catch that. 3 PM on Thursday, November 26 is "
                              "available. Can I have your name, please?")


# --- context edge cases ----------------------------------------------------------------------

@pytest.mark.parametrize("messages", [[], [{"role": "system", "content": "You are nice."}]])
def test_greets_first(messages: list[dict[str, Any]]):
    assert ENGINE.next_action(messages, NOW) == Action(say=GREETING)


def test_default_greeting_and_no_second_greeting():
    engine = ReceptionistEngine(ClientFacts("Acme Clinic", TZ, None))
    assert engine.next_action([], NOW) == Action(
        say="Thank you for calling Acme Clinic. How can I help you today?")
    assert engine.next_action([{"role": "assistant", "content": "Hi!"}], NOW) is None


def test_a_read_back_cut_off_by_barge_in_is_not_confirmed():
    conv = Conversation()
    conv.caller("Tomorrow at 3, my name is Ana")
    assert replies.prompt_kind(conv.last_said) == replies.ASK_CONFIRM
    # The caller talked over it: the context keeps only what was heard.
    conv.messages[-1]["content"] = "Let me confirm: Thursday, November 26"
    conv.caller("Yes")
    assert conv.booked_with() is None
    assert conv.last_said.endswith("Shall I book it?")


def test_waits_while_a_tool_runs_and_reads_list_content():
    messages = [
        {"role": "assistant", "content": GREETING},
        {"role": "user", "content": [{"type": "text", "text": "Friday at 10, I'm Ana"}]},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "get_available_slots", "arguments": '{"date": "2026-11-27"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "IN_PROGRESS"},
    ]
    assert ENGINE.next_action(messages, NOW) is None
    messages[-1]["content"] = json.dumps({"date": "2026-11-27", "slots": ["10:00"]})
    action = ENGINE.next_action(messages, NOW)
    assert action == Action(say="Let me confirm: Friday, November 27 at 10 AM, for Ana. "
                                "Shall I book it?")


# --- replies the caller talked over -----------------------------------------------------------

READ_BACK = "You're booked for Friday, November 27 at 9 AM, John. " + replies.ANYTHING_ELSE


@pytest.mark.parametrize("after", ["Please.", "Thank you.", "Okay", "Um", "Yes"])
def test_a_word_that_cut_off_the_booking_read_back_gets_it_said_again(after: str):
    # "Yes, please" split in two: "Yes" books, and "please" cuts off the read-back.
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller("Yes")
    assert conv.last_said == READ_BACK
    conv.cut_off()
    conv.caller(after)
    assert conv.last_said == READ_BACK
    assert [c.name for c in conv.tool_calls].count("book_appointment") == 1


def test_only_the_part_not_heard_is_said_again():
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller("Yes")
    conv.cut_off("You're booked for Friday, November 27 at 9 AM, John.")
    conv.caller("Thanks")
    assert conv.last_said == replies.ANYTHING_ELSE


def test_a_sentence_cut_off_half_way_is_said_from_its_start():
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller("Yes")
    conv.cut_off("You're booked for Friday,")
    conv.caller("Okay")
    assert conv.last_said == READ_BACK


def test_a_read_back_cut_off_before_its_question_asks_it_before_booking():
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.cut_off("Let me confirm:")
    conv.caller("Please")             # heard no question yet: the read-back is said again
    assert conv.last_said == ("Let me confirm: Friday, November 27 at 9 AM, for John. "
                              "Shall I book it?")
    assert conv.booked_with() is None
    conv.caller("Yes please")
    assert conv.booked_with() == {"date": "2026-11-27", "time": "09:00", "name": "John"}


def test_a_real_request_over_a_reply_is_answered_not_the_reply_repeated():
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller("Yes")
    conv.cut_off()
    conv.caller("Do you have anything on Monday morning too?")
    assert conv.last_said.startswith("On Monday, November 30, I have ")
    conv2 = Conversation()
    conv2.caller("Friday at 9, it's John")
    conv2.caller("Yes")
    conv2.cut_off()
    conv2.caller("Thanks, bye")
    assert conv2.last_said == "Thanks for calling Bright Smile Dental. Goodbye!"


def test_a_courtesy_word_after_a_reply_heard_in_full_is_answered_as_before():
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller("Yes")
    conv.caller("Thanks")
    assert conv.last_said == f"You're welcome. {replies.ANYTHING_ELSE}"


def test_a_name_or_a_bare_yes_to_two_offered_times_moves_the_call_on():
    conv = Conversation(open_calendar(["13:30", "14:30", "16:00"]))
    conv.caller("Can I come in Friday at 2 pm?")
    sorry = ("Sorry, 2 PM isn't available on Friday, November 27. The closest times are "
             "1:30 PM and 2:30 PM. Would one of those work?")
    assert conv.last_said == sorry
    conv.caller("My name is Ana Lopez")          # not the same reply word for word again
    assert conv.last_said == f"Thanks, Ana. {sorry}"
    conv.caller("Yes, please")                   # yes to which one?
    assert conv.last_said == "Which time would you like, 1:30 PM or 2:30 PM?"
    conv.caller("The second one")
    assert conv.last_said == ("Let me confirm: Friday, November 27 at 2:30 PM, for Ana Lopez. "
                              "Shall I book it?")


def unreachable_calendar(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """The calendar of record is down: what tools/calendar.py answers then."""
    if name == "get_available_slots":
        return {"date": args["date"], "slots": [], "reason": "calendar_unreachable",
                "message": "The calendar cannot be reached right now."}
    if name == "book_appointment":
        return {"booked": False, "reason": "calendar_unreachable", **args}
    return open_calendar()(name, args)


def test_an_unreachable_calendar_is_never_called_full_and_a_message_keeps_the_time():
    conv = Conversation(unreachable_calendar)
    conv.caller("My name is Ana Lopez. Can I come in tomorrow at 3 pm?")
    said = " ".join(conv.said[1:])
    assert "fully booked" not in said and "closed" not in said
    assert [c.name for c in conv.tool_calls] == ["get_available_slots", "take_message"]
    message = conv.tool_calls[-1].arguments
    assert message["reason"] == "calendar_unreachable" and message["name"] == "Ana Lopez"
    assert "Thursday, November 26 at 3 PM" in message["message"]  # the day, not "tomorrow"
    assert "can't reach our calendar" in conv.last_said and "booked" not in conv.last_said.replace(
        "couldn't book", "")
    assert "call you back on this number" in conv.last_said


def test_a_calendar_that_fails_at_the_booking_takes_a_message_instead_of_booked():
    def fails_at_booking(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return (unreachable_calendar if name == "book_appointment" else open_calendar())(
            name, args)

    conv = Conversation(fails_at_booking)
    conv.caller("I'd like tomorrow at 10 am please.")
    conv.caller("Ana Lopez.")
    conv.caller("Yes.")
    assert [c.name for c in conv.tool_calls][-2:] == ["book_appointment", "take_message"]
    assert not any(s.startswith("You're booked") for s in conv.said)
    assert "10 AM" in conv.tool_calls[-1].arguments["message"]
    # Asked again on the same call, it does not try the calendar or take a second message.
    before = len(conv.tool_calls)
    conv.caller("Then can I do Friday at 11 am?")
    assert len(conv.tool_calls) == before and "still can't be reached" in conv.last_said


def test_without_messages_an_unreachable_calendar_is_said_plainly():
    conv = Conversation(unreachable_calendar)
    conv.tools = ("get_available_slots", "book_appointment", "end_call")
    conv.caller("Can I come in tomorrow at 3 pm?")
    assert [c.name for c in conv.tool_calls] == ["get_available_slots"]
    assert conv.last_said.startswith(replies.CALENDAR_DOWN)


# --- the caller's own bookings ----------------------------------------------------------

MANAGE = ("get_available_slots", "book_appointment", "end_call", "take_message",
          "find_appointments", "cancel_appointment", "reschedule_appointment")


def holding(*held: tuple[int, str, str]) -> Calendar:
    """The caller holds these bookings (id, date, time); cancels and moves succeed."""

    def calendar(name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "find_appointments":
            return {"appointments": [{"appointment_id": i, "date": d, "time": t,
                                      "weekday": f"{date.fromisoformat(d):%A}", "name": "Ana"}
                                     for i, d, t in held]}
        if name == "cancel_appointment":
            [(_, d, t)] = [h for h in held if h[0] == args["appointment_id"]]
            return {"cancelled": True, "appointment_id": args["appointment_id"],
                    "date": d, "time": t}
        if name == "reschedule_appointment":
            return {"rescheduled": True, "appointment_id": args["appointment_id"],
                    "date": args["date"], "time": args["time"],
                    "weekday": f"{date.fromisoformat(args['date']):%A}"}
        return open_calendar()(name, args)

    return calendar


def managing(calendar: Calendar) -> Conversation:
    conv = Conversation(calendar)
    conv.tools = MANAGE
    return conv


def test_a_caller_cancels_their_only_booking_after_confirming():
    conv = managing(holding((11, "2026-11-27", "10:00")))
    conv.caller("Hi, I need to cancel my appointment.")
    assert [c.name for c in conv.tool_calls] == ["find_appointments"]
    assert conv.last_said == "You have an appointment on Friday, November 27 at 10 AM. " \
                             "Shall I cancel it?"
    conv.caller("Yes please.")
    assert conv.tool_calls[-1] == ToolCall("cancel_appointment", {"appointment_id": 11})
    assert conv.last_said.startswith("Done. Your appointment on Friday, November 27 at 10 AM "
                                     "is cancelled.")


def test_a_caller_who_says_no_to_the_cancel_keeps_the_booking():
    conv = managing(holding((11, "2026-11-27", "10:00")))
    conv.caller("Can I cancel my booking?")
    conv.caller("No, leave it.")
    assert [c.name for c in conv.tool_calls] == ["find_appointments"]
    assert conv.last_said.startswith(replies.LEFT_AS_IS)


def test_with_several_bookings_the_caller_is_asked_which():
    conv = managing(holding((11, "2026-11-27", "10:00"), (12, "2026-12-01", "15:00")))
    conv.caller("I can't make my appointment, I need to cancel it.")
    assert "Friday, November 27 at 10 AM and Tuesday, December 1 at 3 PM" in conv.last_said
    assert "Which appointment would you like to cancel?" in conv.last_said
    conv.caller("The Tuesday one.")
    assert "December 1 at 3 PM. Shall I cancel it?" in conv.last_said
    conv.caller("Yes.")
    assert conv.tool_calls[-1] == ToolCall("cancel_appointment", {"appointment_id": 12})


def test_a_caller_moves_their_booking_to_a_free_time():
    conv = managing(holding((11, "2026-11-27", "10:00")))
    conv.caller("I'd like to reschedule my appointment.")
    assert conv.last_said.endswith("What day would you like to move it to?")
    conv.caller("Monday at 2 pm.")
    assert conv.tool_calls[-1] == ToolCall("get_available_slots", {"date": "2026-11-30"})
    assert conv.last_said == ("To confirm, I'll move your appointment from Friday, November 27 "
                              "at 10 AM to Monday, November 30 at 2 PM. Shall I move it?")
    conv.caller("Yes, that's right.")
    assert conv.tool_calls[-1] == ToolCall("reschedule_appointment", {
        "appointment_id": 11, "date": "2026-11-30", "time": "14:00"})
    assert conv.last_said.startswith("Done. Your appointment is now on Monday, November 30 "
                                     "at 2 PM.")


def test_a_move_to_a_taken_time_offers_the_alternatives():
    def taken(name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "reschedule_appointment" and args["time"] == "14:00":
            return {"rescheduled": False, "reason": "slot_taken", **args,
                    "alternatives": [{"date": args["date"], "time": "14:30"}]}
        return holding((11, "2026-11-27", "10:00"))(name, args)

    conv = managing(taken)
    conv.caller("Can I move my appointment to Monday at 2 pm?")
    assert conv.last_said.endswith("Monday, November 30 at 2 PM. Shall I move it?")
    conv.caller("Yes.")
    assert "2 PM was just taken. I can do 2:30 PM" in conv.last_said
    conv.caller("Yes, that works.")
    conv.caller("Yes.")
    assert conv.tool_calls[-1] == ToolCall("reschedule_appointment", {
        "appointment_id": 11, "date": "2026-11-30", "time": "14:30"})


def test_a_caller_without_bookings_is_offered_a_new_one():
    conv = managing(holding())
    conv.caller("I want to cancel my appointment.")
    assert conv.last_said.startswith("I can't find an upcoming appointment")
    conv.caller("Yes, tomorrow at 3 pm.")
    assert conv.tool_calls[-1] == ToolCall("get_available_slots", {"date": "2026-11-26"})


def test_a_withheld_number_is_told_its_bookings_cannot_be_looked_up():
    def withheld(name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "find_appointments":
            return {"error": "the caller's number is withheld or unknown"}
        return open_calendar()(name, args)

    conv = managing(withheld)
    conv.caller("Please cancel my appointment.")
    assert conv.last_said.startswith(replies.NO_NUMBER_FOR_BOOKINGS)
    assert [c.name for c in conv.tool_calls] == ["find_appointments"]


def test_without_the_tools_a_change_is_still_refused_honestly():
    conv = Conversation(holding((11, "2026-11-27", "10:00")))
    conv.tools = ("get_available_slots", "book_appointment", "end_call", "take_message")
    conv.caller("I need to cancel my appointment.")
    assert conv.tool_calls == [] and "can't change or cancel" in conv.last_said
