"""The receptionist on what callers say and what recognition writes of it: times and dates
in every form, requests in any order, corrections, yes/no/goodbye variants, names that must
be spelled, questions it can answer, and recovery instead of repetition."""

from __future__ import annotations

import pytest

from pipelines.receptionist import replies
from pipelines.receptionist.engine import ToolCall
from tests.test_receptionist_engine import Conversation, complete_booking

# --- times in the forms recognition writes ----------------------------------------------------


@pytest.mark.parametrize(("caller", "day", "time"), [
    ("Can I come in tomorrow at 1130?", "2026-11-26", "11:30"),
    ("Tomorrow at 530.", "2026-11-26", "17:30"),
    ("1030 tomorrow please.", "2026-11-26", "10:30"),
    ("Tomorrow, 1130am.", "2026-11-26", "11:30"),
    ("Tomorrow at 11.30.", "2026-11-26", "11:30"),
    ("The day after tomorrow at 5 30 pm, please.", "2026-11-27", "17:30"),
    ("Tomorrow at half past, free.", "2026-11-26", "15:30"),
    ("Tomorrow at half past three.", "2026-11-26", "15:30"),
    ("Could I book Thursday at quarter to four?", "2026-11-26", "15:45"),
    ("Tomorrow at noon.", "2026-11-26", "12:00"),
    ("Anything tomorrow at midday?", "2026-11-26", "12:00"),
    ("Tomorrow at date a clock.", "2026-11-26", "08:00"),
    ("Tomorrow at eight a clock in the morning.", "2026-11-26", "08:00"),
    ("Could you book me in for half eleven tomorrow?", "2026-11-26", "11:30"),
    ("Tomorrow at for pm.", "2026-11-26", "16:00"),
    ("Tomorrow, quarter past three.", "2026-11-26", "15:15"),
    ("Tuesday, nine fifteen a.m.", "2026-12-01", "09:15"),
    ("Tomorrow at one thirty in the afternoon.", "2026-11-26", "13:30"),
])
def test_times_as_recognition_writes_them(caller: str, day: str, time: str):
    conv = Conversation()
    complete_booking(conv, caller)
    assert conv.booked_with() == {"date": day, "time": time, "name": "Ana Lopez"}


# --- dates ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("caller", "day"), [
    ("In three days at 10 am.", "2026-11-28"),
    ("Three days from now, at 10 am.", "2026-11-28"),
    ("Next week Tuesday at 10 am.", "2026-12-01"),
    ("Do you have anything on the 14th at 10 am?", "2026-12-14"),
    ("Friday at 10 am.", "2026-11-27"),
    ("In five days, at 10.", "2026-11-30"),
    ("The day after tomorrow, 10 am.", "2026-11-27"),
])
def test_dates(caller: str, day: str):
    conv = Conversation()
    complete_booking(conv, caller)
    assert conv.booked_with() == {"date": day, "time": "10:00", "name": "Ana Lopez"}


@pytest.mark.parametrize("correction", [
    "No wait, the day after instead, same time.",
    "Actually, the day after that, same time.",
    "Can we do the next day instead?",
])
def test_the_day_after_moves_the_day_and_keeps_the_time(correction: str):
    conv = Conversation()
    conv.caller("Tomorrow at 10 am.")
    conv.caller("Mark Evans.")
    conv.caller(correction)
    assert conv.last_said == ("Let me confirm: Friday, November 27 at 10 AM, for Mark Evans. "
                              "Shall I book it?")


# --- the request's parts in any order ---------------------------------------------------------

@pytest.mark.parametrize(("lines", "booked"), [
    (["Laura Martinez. I'd like Tuesday at 2 pm.", "Yes."],
     {"date": "2026-12-01", "time": "14:00", "name": "Laura Martinez"}),
    (["Hi, Linda Park here.", "Can I come in Thursday at 9:30 in the morning?", "Yes please."],
     {"date": "2026-11-26", "time": "09:30", "name": "Linda Park"}),
    (["I'd like an appointment.", "It's Robert Chen, by the way.", "Tomorrow at 10 am.", "Yes."],
     {"date": "2026-11-26", "time": "10:00", "name": "Robert Chen"}),
    (["I'd like to book something at 4 pm.", "Tomorrow.", "Sarah Johnson.", "Yes."],
     {"date": "2026-11-26", "time": "16:00", "name": "Sarah Johnson"}),
    (["At 11 am, please, on Monday. For David Kim.", "Yes."],
     {"date": "2026-11-30", "time": "11:00", "name": "David Kim"}),
    (["I'd like to book an appointment.", "At 1 pm.", "Tomorrow, please.", "Priya Patel.",
      "Yes."], {"date": "2026-11-26", "time": "13:00", "name": "Priya Patel"}),
])
def test_any_order(lines: list[str], booked: dict[str, str]):
    conv = Conversation()
    for line in lines:
        conv.caller(line)
    assert conv.booked_with() == booked


def test_a_name_given_while_a_time_is_awaited_is_kept_not_refused():
    conv = Conversation()
    conv.caller("Can you fit me in on Monday?")
    assert replies.prompt_kind(conv.last_said) == replies.ASK_TIME
    conv.caller("Daniel Lee.")
    assert not conv.last_said.startswith(replies.DIDNT_CATCH)
    assert conv.last_said.startswith("Thanks, Daniel.")
    conv.caller("Half past three.")
    assert conv.last_said == ("Let me confirm: Monday, November 30 at 3:30 PM, for Daniel Lee. "
                              "Shall I book it?")


# --- corrections -------------------------------------------------------------------------------

@pytest.mark.parametrize(("first", "name", "correction", "readback"), [
    ("Tomorrow at 2 pm.", "Linda Mark.", "No, it's Park: P A R K. Linda Park.",
     "Thursday, November 26 at 2 PM, for Linda Park"),
    ("Tomorrow at 10 am.", "Amy Chan.", "No, Chen. C H E N.",
     "Thursday, November 26 at 10 AM, for Amy Chen"),
    ("Thursday at 11 am.", "Brian Adams.", "Sorry, I meant Friday, not Thursday.",
     "Friday, November 27 at 11 AM, for Brian Adams"),
    ("Monday at 9 am.", "Nina Cole.", "Can we do half past nine instead?",
     "Monday, November 30 at 9:30 AM, for Nina Cole"),
    ("Tomorrow at 4 pm please.", "Carlos Mendez.", "No, change the time to 5 pm.",
     "Thursday, November 26 at 5 PM, for Carlos Mendez"),
    ("Tomorrow at 10 am.", "Ana Lopez.", "No, my name is Ana Lopes. A N A, L O P E S.",
     "Thursday, November 26 at 10 AM, for Ana Lopes"),
])
def test_corrections_at_the_read_back(first: str, name: str, correction: str, readback: str):
    conv = Conversation()
    conv.caller(first)
    conv.caller(name)
    conv.caller(correction)
    assert conv.last_said == f"Let me confirm: {readback}. Shall I book it?"
    assert conv.booked_with() is None


# --- yes, no and goodbye, as said and as misheard ---------------------------------------------

@pytest.mark.parametrize("answer", ["Work.", "Yep.", "Yup!", "You bet.", "Sure thing.",
                                    "That's right.", "Yeah, go ahead.", "Yes sir."])
def test_yes_to_the_read_back_in_its_variants(answer: str):
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller(answer)
    assert conv.booked_with() == {"date": "2026-11-27", "time": "09:00", "name": "John"}


@pytest.mark.parametrize("answer", ["Nope.", "Know.", "No, that's not right."])
def test_no_to_the_read_back_in_its_variants(answer: str):
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller(answer)
    assert conv.last_said == replies.WHAT_TO_CHANGE
    assert conv.booked_with() is None


@pytest.mark.parametrize("goodbye", ["By now.", "Bye now.", "By.", "Okay, buh bye.",
                                     "I'll call back later.", "Goodnight."])
def test_goodbyes_in_their_variants(goodbye: str):
    conv = Conversation()
    action = conv.caller(goodbye)
    assert action is not None and action.ends_call


# --- names that cannot be names ---------------------------------------------------------------

@pytest.mark.parametrize("heard", ["Game.", "Work.", "Al.", "Date."])
def test_a_word_for_a_name_is_asked_to_be_spelled(heard: str):
    conv = Conversation()
    conv.caller("Tomorrow at 3 pm.")
    conv.caller(heard)
    assert conv.last_said == replies.ASK_SPELLING
    conv.caller("Z O E, H A R T.")
    assert conv.last_said == ("Let me confirm: Thursday, November 26 at 3 PM, for Zoe Hart. "
                              "Shall I book it?")


def test_spelled_letters_beside_the_name_are_used():
    conv = Conversation()
    conv.caller("Tomorrow at 9 am please.")
    conv.caller("My name is Lee Park, L E E, P A R K.")
    assert conv.last_said.endswith("for Lee Park. Shall I book it?")


# --- questions it can answer, and what it cannot -----------------------------------------------

@pytest.mark.parametrize(("caller", "answer"), [
    ("Are you open today?", "Yes, we're open today from 9 AM to 5 PM."),
    ("Is the office open today?", "Yes, we're open today from 9 AM to 5 PM."),
    ("Are you open on Saturday?", "Yes, we're open on Saturday from 9 AM to 1 PM."),
    ("Are you open on Sunday?", "No, we're closed on Sunday. We're open again on Monday "
                                "from 9 AM."),
    ("What time do you close?", "We close at 5 PM today."),
    ("What time do you open tomorrow?", "We open at 9 AM tomorrow."),
    ("What are your opening hours?", "We're open Monday to Friday, 9 AM to 5 PM, and "
                                     "Saturday, 9 AM to 1 PM."),
    ("What's the name of your office again?", "This is Bright Smile Dental."),
    ("Is this the dentist?", "This is Bright Smile Dental."),
    ("What's your phone number?", "Our number is 2 1 2, 5 5 5, 0 1 2 3."),
])
def test_questions_answered_from_what_it_knows(caller: str, answer: str):
    conv = Conversation()
    conv.caller(caller)
    assert conv.tool_calls == []  # no slot list for "are you open today?"
    assert conv.last_said == f"{answer} {replies.WANT_BOOKING}"


@pytest.mark.parametrize("caller", ["Do you do teeth whitening?", "How much is a filling?",
                                    "Where do I park?", "Do you take walk-ins?"])
def test_anything_else_is_not_invented(caller: str):
    conv = Conversation()
    conv.caller(caller)
    assert conv.last_said == f"{replies.DONT_KNOW} {replies.LEAVE_ONE}"


def test_an_hours_question_mid_booking_is_answered_and_the_booking_goes_on():
    conv = Conversation()
    conv.caller("Tomorrow at 3 pm.")
    conv.caller("What time do you close tomorrow?")
    assert conv.last_said == ("We close at 5 PM tomorrow. 3 PM on Thursday, November 26 is "
                              "available. Can I have your name, please?")


# --- recovery, not repetition -----------------------------------------------------------------

def test_two_unusable_turns_get_concrete_choices_and_three_a_message():
    conv = Conversation()
    conv.caller("Tomorrow, please.")
    assert replies.prompt_kind(conv.last_said) == replies.ASK_TIME
    conv.caller("[inaudible]")
    first = conv.last_said
    conv.caller("Hmm, purple.")
    assert conv.last_said != first
    assert conv.last_said.startswith("I have 8 AM, 1:30 PM or 6:45 PM on Thursday, November 26. "
                                     "Which time, or shall I take a message?")
    conv.caller("Banana.")
    assert conv.tool_calls[-2].name == "take_message"
    assert conv.tool_calls[-2].arguments["reason"] == "not_understood"
    assert "Thursday, November 26" in conv.tool_calls[-2].arguments["message"]
    assert conv.tool_calls[-1] == ToolCall("end_call", {})
    assert conv.booked_with() is None


def test_never_the_identical_reply_twice_in_a_row():
    conv = Conversation()
    conv.caller("Tomorrow at 3 pm.")
    for _ in range(2):
        conv.caller("Yes.")
    said = [" ".join(s.split()) for s in conv.said]
    assert all(a != b for a, b in zip(said, said[1:], strict=False)), conv.said


def test_an_empty_turn_at_the_read_back_asks_whether_it_was_a_yes():
    conv = Conversation()
    conv.caller("Friday at 9, it's John")
    conv.caller("[inaudible]")
    assert conv.last_said == replies.WAS_THAT_YES
    conv.caller("Yes.")
    assert conv.booked_with() == {"date": "2026-11-27", "time": "09:00", "name": "John"}


# --- messages ----------------------------------------------------------------------------------

def test_a_message_is_taken_with_name_body_and_the_caller_id():
    conv = Conversation()
    conv.caller("Can I leave a message for the doctor?")
    assert conv.last_said == replies.ASK_MESSAGE_NAME
    conv.caller("This is Maria Garcia.")
    assert conv.last_said == replies.ASK_MESSAGE_BODY
    conv.caller("Please ask her to call me back about my test results.")
    assert conv.last_said == replies.ASK_CALLBACK_NUMBER
    conv.caller("Yes, this number is fine.")
    assert conv.tool_calls[-1] == ToolCall("take_message", {
        "name": "Maria Garcia",
        "message": "Please ask her to call me back about my test results."})
    assert conv.last_said == replies.message_taken("Maria Garcia")


def test_a_message_with_another_callback_number():
    conv = Conversation()
    conv.caller("I want to speak to the manager.")
    conv.caller("Then please take a message. My name is David Kim.")
    conv.caller("Tell him the invoice was wrong.")
    conv.caller("No.")
    assert conv.last_said == replies.ASK_OTHER_NUMBER
    conv.caller("It's 212 555 0187.")
    assert conv.tool_calls[-1] == ToolCall("take_message", {
        "name": "David Kim", "message": "Tell him the invoice was wrong.",
        "phone": "212 555 0187"})
