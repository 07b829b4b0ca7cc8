"""The receptionist engine: transfers to a person, and key presses (DTMF) in the context."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from pipelines.receptionist import replies
from pipelines.receptionist.engine import (
    BOOKING_TOOLS,
    TOOL_NAMES,
    Action,
    ToolCall,
)
from tests.engine_talk import ENGINE, GREETING, NOW, EngineTalk

TRANSFER = Action(tool_call=ToolCall("transfer_call", {}))
HOLD = "Sure, I'm transferring you now. Please hold."
PUT_THROUGH = {"transferring": True, "to": "+12125550199"}
NO_NUMBER = {"transferring": False, "reason": "no transfer number configured"}
KEYPAD = "Sorry, I can't use the keypad on this line. Please just tell me what you need."


class Call(EngineTalk):
    """A call whose tool calls are answered from `results` (by tool name)."""

    def __init__(self, results: dict[str, Any] | None = None, *,
                 tools: Any = TOOL_NAMES, greet: bool = True) -> None:
        self.results = {"transfer_call": PUT_THROUGH, **(results or {})}
        super().__init__(tools=tools, greet=greet)

    def answer(self, call: ToolCall) -> str:
        if call.name == "get_available_slots":
            day = date.fromisoformat(call.arguments["date"])
            return json.dumps({"date": call.arguments["date"], "weekday": f"{day:%A}",
                               "slots": ["09:00", "10:00", "15:00"]})
        if call.name == "book_appointment":
            return json.dumps({"booked": True, "appointment_id": 7, **call.arguments})
        result = self.results.get(call.name, {"ok": True})
        return result if isinstance(result, str) else json.dumps(result)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.tool_calls]


def first_move(text: str, tools: Any = TOOL_NAMES) -> Action | None:
    return ENGINE.next_action(
        [{"role": "assistant", "content": GREETING}, {"role": "user", "content": text}], NOW,
        tools)


# --- asking for a person ---------------------------------------------------------------------

@pytest.mark.parametrize("caller", [
    "Can I speak to a real person?",
    "I want to talk to a human.",
    "Transfer me to the front desk, please.",
    "Could you put me through to the receptionist?",
    "Let me speak with the manager.",
    "Operator!",
    "Can I talk to somebody in the office?",
    "Is there a live person I can talk to?",
    "Connect me with the front desk.",
    "Transfer, please.",
    "I need to speak to Dr. Lee.",
    "Can I be transferred to someone?",
    "Representative.",
])
def test_asking_for_a_person_calls_transfer_with_no_arguments(caller: str):
    assert first_move(caller) == TRANSFER


@pytest.mark.parametrize("tools", [None, BOOKING_TOOLS], ids=["unknown", "booking tools"])
def test_without_the_tool_offered_a_message_is_offered_instead(tools: Any):
    action = first_move("Can I speak to a real person?", tools)
    assert action == Action(say=f"{replies.REFUSALS['human']} {replies.LEAVE_ONE}")


def test_without_any_tool_the_refusal_promises_nothing_it_cannot_do():
    action = first_move("Can I speak to a real person?", frozenset())
    assert action == Action(say=replies.REFUSALS_NO_MESSAGE["human"])


def test_asking_what_we_are_is_not_a_transfer_request():
    action = first_move("Wait, are you a real person?")
    assert action is not None and action.tool_call is None
    assert action.say.startswith("I'm the automated receptionist.")


@pytest.mark.parametrize(("caller", "expected"), [
    ("I'd like to book an appointment for my manager tomorrow",
     Action(tool_call=ToolCall("get_available_slots", {"date": "2026-11-26"}))),
    ("Can I transfer my appointment to Friday?",
     Action(tool_call=ToolCall("get_available_slots", {"date": "2026-11-27"}))),
    ("I want someone to call me back", Action(say=replies.ASK_MESSAGE_NAME)),
])
def test_mentioning_a_person_is_not_always_asking_for_one(caller: str, expected: Action):
    assert first_move(caller) == expected


def test_transfer_before_the_greeting_is_not_delayed():
    messages = [{"role": "user", "content": "Operator, please."}]
    assert ENGINE.next_action(messages, NOW, TOOL_NAMES) == TRANSFER


def test_a_person_mid_booking_is_transferred_and_nothing_is_booked():
    call = Call()
    call.caller("I'd like to book tomorrow at 3")
    assert replies.prompt_kind(call.said[-1]) == replies.ASK_NAME
    call.caller("Actually, can I just talk to the receptionist?")
    assert call.names == ["get_available_slots", "transfer_call"]
    assert call.said[-1] == HOLD


def test_no_to_anything_else_with_a_person_request_transfers_instead_of_hanging_up():
    call = Call()
    call.caller("I'd like to book tomorrow at 3")
    call.caller("Ana Lopez")
    call.caller("Yes")
    assert replies.prompt_kind(call.said[-1]) == replies.ASK_ANYTHING_ELSE
    call.caller("No, but can I speak to the manager?")
    assert call.names[-1] == "transfer_call" and "end_call" not in call.names


# --- the tool's answer -----------------------------------------------------------------------

def test_transferring_says_only_the_hold_line_then_stays_quiet():
    call = Call()
    action = call.caller("Can I speak to someone at the front desk?")
    assert call.tool_calls == [ToolCall("transfer_call", {})]
    assert action == Action(say=HOLD)
    assert call.said == [GREETING, HOLD]
    assert call.caller("Okay, thanks.") is None  # on hold: the call does the rest
    assert call.said[-1] == HOLD


@pytest.mark.parametrize("result", [
    NO_NUMBER,
    {"transferring": False, "reason": "no Twilio credentials"},
    {"transferring": False, "reason": "transfers are not available on this line"},
    {"error": "unknown tool: transfer_call"},
    {"error": "the transfer is unavailable right now"},
    {"ok": True},  # not a yes
    "something went wrong",  # not even JSON
], ids=["no number", "no credentials", "no call", "unknown tool", "crashed", "odd", "text"])
def test_a_transfer_that_cannot_happen_is_admitted_and_alternatives_offered(result: Any):
    call = Call({"transfer_call": result})
    action = call.caller("I want to talk to a human")
    assert call.names == ["transfer_call"]
    assert action == Action(say=replies.TRANSFER_FAILED)
    assert action.say.startswith("Sorry, I can't transfer your call right now")
    assert "book an appointment" in action.say
    assert "transferring you" not in action.say.lower()
    assert replies.prompt_kind(action.say) == replies.ASK_ANYTHING_ELSE


def test_after_a_failed_transfer_it_is_not_tried_again_and_booking_still_works():
    call = Call({"transfer_call": NO_NUMBER})
    call.caller("Operator")
    again = call.caller("Please, I really need to speak to a person")
    assert call.names == ["transfer_call"]  # not retried
    assert again == Action(say=f"{replies.REFUSALS['human']} {replies.LEAVE_ONE}")
    call.caller("Fine, book me tomorrow at 3")
    call.caller("Ana Lopez")
    call.caller("Yes")
    assert call.names == ["transfer_call", "get_available_slots", "book_appointment"]
    assert call.said[-1].startswith("You're booked for Thursday, November 26 at 3 PM, Ana.")


def test_no_after_a_failed_transfer_says_goodbye():
    call = Call({"transfer_call": NO_NUMBER})
    call.caller("Can I talk to someone?")
    action = call.caller("No, that's all.")
    assert action is not None and action.ends_call


def test_a_transfer_still_in_progress_waits():
    messages = [
        {"role": "assistant", "content": GREETING},
        {"role": "user", "content": "Operator"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "transfer_call", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "IN_PROGRESS"},
    ]
    assert ENGINE.next_action(messages, NOW, TOOL_NAMES) is None
    messages[-1]["content"] = json.dumps(PUT_THROUGH)
    assert ENGINE.next_action(messages, NOW, TOOL_NAMES) == Action(say=HOLD)


# --- key presses -----------------------------------------------------------------------------

@pytest.mark.parametrize("keys", ["DTMF: 1", "DTMF: 123#", "DTMF: *", "DTMF: #", "dtmf: 9"])
def test_key_presses_get_a_prompt_to_speak(keys: str):
    assert first_move(keys) == Action(say=KEYPAD)


def test_zero_is_the_operator_when_transfer_is_offered():
    assert first_move("DTMF: 0") == TRANSFER
    assert first_move("DTMF: 0#") == TRANSFER
    assert first_move("DTMF: 0", BOOKING_TOOLS) == Action(say=KEYPAD)


def test_a_key_press_before_the_greeting_is_greeted():
    messages = [{"role": "user", "content": "DTMF: 5"}]
    assert ENGINE.next_action(messages, NOW, TOOL_NAMES) == Action(say=GREETING)


def test_a_key_press_is_not_a_time_or_a_yes_mid_booking():
    call = Call()
    call.caller("I'd like to book tomorrow at 3")
    call.caller("Ana Lopez")
    assert replies.prompt_kind(call.said[-1]) == replies.ASK_CONFIRM
    action = call.caller("DTMF: 1")
    assert action is not None and action.tool_call is None
    assert action.say == ("Sorry, I can't use the keypad on this line. Let me confirm: "
                          "Thursday, November 26 at 3 PM, for Ana Lopez. Shall I book it?")
    assert "book_appointment" not in call.names
    call.caller("Yes")
    assert call.names[-1] == "book_appointment"


def test_speech_alongside_key_presses_is_still_understood():
    action = first_move("DTMF: 1 I'd like to book tomorrow at 3")
    assert action == Action(tool_call=ToolCall("get_available_slots", {"date": "2026-11-26"}))
