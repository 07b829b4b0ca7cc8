"""The receptionist's next move, decided from the conversation so far.

Pure Python and deterministic: given the LLM-context messages (OpenAI format) and
the client's facts, return what to say, which tool to call, or both when saying
goodbye and hanging up. It books only after the caller confirms a read-back, and
says "booked" only after ``book_appointment`` returned ``booked: true``.

When the caller asks for a person (or presses 0) and ``transfer_call`` is among the
offered tools, it calls that tool; it says it is transferring only after the tool
returned ``transferring: true``, and otherwise says honestly that it cannot.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.receptionist import hours, replies
from pipelines.receptionist.nlu import Understanding
from pipelines.receptionist.replies import say_day
from pipelines.receptionist.state import (
    BOOK,
    CANCEL,
    END_CALL,
    FIND,
    GET_SLOTS,
    MANAGE_TOOLS,
    RESCHEDULE,
    TAKE_MESSAGE,
    TRANSFER,
    Change,
    DialogueState,
    calendar_unreachable,
    message_text,
    nearest,
    parse_day,
    parse_hhmm,
    replay,
    spread,
)
from pipelines.receptionist.when import in_part_of_day

BOOKING_TOOLS = (GET_SLOTS, BOOK, END_CALL, TAKE_MESSAGE)
TOOL_NAMES = (*BOOKING_TOOLS, TRANSFER, *MANAGE_TOOLS)  # every tool the engine may call
GIVE_UP_AFTER = 3  # caller turns in a row it could not use: take a message and end
CHOICES_AFTER = 2  # ...: say what it has and offer concrete choices


@dataclass(frozen=True)
class ClientFacts:
    """What the receptionist knows about the business it answers for."""

    business_name: str
    timezone: str  # IANA name, e.g. "America/New_York"
    initial_greeting: str | None = None
    business_hours: Mapping[str, Sequence[str]] | None = None  # "mon": ["09:00", "17:00"]
    phone_number: str | None = None  # the business's own number, E.164


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """Say `say` (may be empty), then make `tool_call` (may be None)."""

    say: str = ""
    tool_call: ToolCall | None = None

    @property
    def ends_call(self) -> bool:
        return self.tool_call is not None and self.tool_call.name == END_CALL


# A question we have no answer for: "Where do I park?", "Do you take walk-ins?"
_QUESTION = re.compile(r"\?\s*$|^\s*(?:what|where|when|who|why|how|do|does|is|are|can|could"
                       r"|will|would)\b", re.I)


def _say(text: str) -> Action:
    return Action(say=text)


def _call(tool: str, arguments: dict[str, Any]) -> Action:
    return Action(tool_call=ToolCall(tool, arguments))


def _spoken(message: Any) -> bool:
    """One of our replies as the caller heard it (not a tool call)."""
    return (isinstance(message, dict) and message.get("role") == "assistant"
            and not message.get("tool_calls") and bool(message_text(message).strip()))


def _moved(before: DialogueState, after: DialogueState) -> bool:
    """The caller's last turn changed the request (or cancelled, or asked to change it)."""
    return (after.request != before.request or after.name != before.name or after.cancelled
            or after.wants_change or after.changed_after_booking or after.change != before.change
            or after.change_dropped)


def _wants_to_hang_up(st: DialogueState) -> bool:
    u = st.last_user
    assert u is not None
    confirming = st.expect == replies.ASK_CONFIRM and st.request is not None
    if confirming and st.request is not None and st.request.confirmed:
        return False  # "yes, thanks, bye" to the read-back: book first, goodbyes after
    if st.change is not None and st.change.confirmed:
        return False  # the same for "yes, cancel it, bye"
    if u.goodbye or (u.done and not confirming):
        return True
    return (st.expect == replies.ASK_ANYTHING_ELSE and u.no and not u.has_details
            and not (u.book or u.availability or u.out_of_scope))


class ReceptionistEngine:
    """Decides the next action for one client's calls; holds no per-call state."""

    def __init__(self, facts: ClientFacts) -> None:
        self.facts = facts
        self._tz = ZoneInfo(facts.timezone)

    def next_action(self, messages: Sequence[Any], now: datetime,
                    tools: Collection[str] | None = None) -> Action | None:
        """The next action, or None when there is nothing to answer (or the call has ended).

        `tools` names the tools offered in the context; None means the booking tools
        only. ``transfer_call`` is called only when it is offered.
        """
        today = now.astimezone(self._tz).date()
        offered = BOOKING_TOOLS if tools is None else tools
        can_manage = all(t in offered for t in MANAGE_TOOLS)
        st = replay(messages, today, can_manage=can_manage)
        if st.ended or st.last == "waiting":
            return None
        if st.transferring and st.last != "tool":
            return None  # the hold line has been said; the call does the rest
        if st.last == "tool":
            action = self._after_tool(st, today, can_message=TAKE_MESSAGE in offered)
            return self._not_again(st, action, today)
        if st.last == "user":
            missed = self._missed_reply(messages, st, now, today, tools, can_manage)
            if missed:
                return _say(missed)
            action = self._after_user(st, now.astimezone(self._tz), today,
                                      can_transfer=TRANSFER in offered,
                                      can_message=TAKE_MESSAGE in offered)
            return self._not_again(st, action, today)
        if not st.greeted:
            return _say(replies.greeting(self.facts.business_name, self.facts.initial_greeting))
        return None

    # --- caller turns ---------------------------------------------------------------------

    def _missed_reply(self, messages: Sequence[Any], st: DialogueState, now: datetime,
                      today: date, tools: Collection[str] | None, can_manage: bool
                      ) -> str | None:
        """What the caller has not heard of our last reply, when their turn asks nothing new.

        A "yes, please" the VAD splits in two has its "please" cut off the read-back of
        the booking the "yes" made; the context then holds only what was heard (the call
        trims an interrupted reply to the sentences whose marks came back). Answering
        "please" by itself would leave the caller never hearing that they are booked, so
        the rest of the reply is said instead, from the sentence they were cut off in.
        """
        u = st.last_user
        assert u is not None
        if not u.asks_nothing:
            return None
        end = max(i for i, m in enumerate(messages)
                  if isinstance(m, dict) and m.get("role") == "user")
        start = end
        while start > 0 and _spoken(messages[start - 1]):
            start -= 1
        reply = self.next_action(messages[:start], now, tools)
        if reply is None or reply.tool_call is not None or not reply.say:
            return None
        if _moved(replay(messages[:end], today, can_manage=can_manage), st):
            return None  # e.g. the "yes" answered the read-back it heard: book
        said = " ".join(reply.say.split())
        heard = " ".join(" ".join(message_text(m) for m in messages[start:end]).split())
        if heard == said or not said.startswith(heard):
            return None
        # Start again at the sentence they were cut off in: half a sentence reads badly.
        done = 0
        for sentence in replies.sentences(said):
            if done + len(sentence.rstrip()) > len(heard):
                break
            done += len(sentence)
        return said[done:]

    def _after_user(self, st: DialogueState, now: datetime, today: date, *,
                    can_transfer: bool, can_message: bool) -> Action:
        u = st.last_user
        assert u is not None
        if u.transfer and can_transfer and not st.transfer_failed:
            # Said after the result, so the caller hears "transferring" only when it is true.
            # A transfer that failed is not tried again; the refusal below answers instead.
            return _call(TRANSFER, {})
        if not st.greeted and not (u.has_details or u.book or u.availability or u.name
                                   or u.out_of_scope or u.goodbye or u.question or u.message):
            return _say(replies.greeting(self.facts.business_name, self.facts.initial_greeting))
        if _wants_to_hang_up(st):
            return Action(say=replies.goodbye(self.facts.business_name),
                          tool_call=ToolCall(END_CALL, {}))
        if st.misses >= GIVE_UP_AFTER:
            return self._give_up(st, today, can_message=can_message)
        if st.change_dropped:
            return _say(f"{replies.LEFT_AS_IS} {replies.ANYTHING_ELSE}")
        if st.change is not None:
            return self._change_step(st, st.change, today)
        if st.message is not None and can_message:
            return self._message_step(st)
        if st.cancelled:
            return _say(f"{replies.CANCELLED} {replies.ANYTHING_ELSE}")
        if st.calendar_down and st.request is not None:
            return self._calendar_down(st, today, can_message=can_message)
        if st.changed_after_booking:
            last = st.bookings[-1]
            return _say(replies.already_booked(say_day(last.day, today), last.time))

        answer = self._answer(u, now, today) if u.question else None
        refusal = self._refusal(u, can_message) if u.out_of_scope else None
        if st.request is None:
            if answer:
                follow = replies.ANYTHING_ELSE if st.bookings else replies.WANT_BOOKING
                return _say(f"{answer} {follow}")
            if refusal:
                if not can_message:
                    return _say(refusal)
                after = replies.AFTER_REFUSAL.get(u.out_of_scope or "", replies.LEAVE_ONE)
                return _say(f"{refusal} {after}")
            if st.needs_spelling:
                return _say(replies.ASK_SPELLING)
            if u.name:
                return _say(f"Thanks, {replies.first_name(u.name)}. {replies.HOW_CAN_I_HELP}")
            if u.thanks:
                return _say(f"You're welcome. {replies.ANYTHING_ELSE}")
            if st.expect in (replies.ASK_ANYTHING_ELSE, replies.ASK_WANT_BOOKING) and u.yes:
                return _say("Sure. What can I help you with?")
            if st.expect in (replies.ASK_TAKE_MESSAGE, replies.ASK_WANT_BOOKING) and u.no:
                return _say(f"Okay. {replies.ANYTHING_ELSE}")
            if u.greeting:
                return _say(f"Hi! {replies.HOW_CAN_I_HELP}")
            if u.keys_only:
                return _say(f"{replies.KEYPAD} {replies.SAY_WHAT_YOU_NEED}")
            if st.misses >= CHOICES_AFTER:
                return _say(replies.CHOICES_GENERAL)
            if u.empty:
                return _say(f"{replies.DIDNT_CATCH} {replies.SAY_AGAIN}")
            if u.yes or u.no:
                return _say(f"Okay. {replies.HOW_CAN_I_HELP}")
            if not can_message:
                return _say(replies.CANT_HELP)
            if _QUESTION.search(u.text):
                return _say(f"{replies.DONT_KNOW} {replies.LEAVE_ONE}")
            return _say(f"{replies.DIDNT_CATCH} {replies.CHOICES_GENERAL}")

        if st.wants_change:
            return _say(replies.WHAT_TO_CHANGE)
        step = self._progress(st, today)
        if st.misses >= CHOICES_AFTER and step.tool_call is None:
            return _say(self._choices(st, today, step))
        if u.keys_only:
            prefix, again = replies.KEYPAD, replies.SAY_WHAT_YOU_NEED
        else:
            prefix = answer or refusal or (None if u.understood else replies.DIDNT_CATCH)
            again = replies.SAY_AGAIN
        if prefix is None:
            if step.tool_call is None and step.say and st.last_reply.endswith(step.say):
                return self._move_on(st, u, step)
            return step
        if u.empty and st.expect == replies.ASK_CONFIRM:
            return _say(replies.WAS_THAT_YES)
        # A tool call is not combined with speech: the reply would land in the context
        # after the tool result and hide it. Ask again instead; the next turn continues.
        if step.tool_call is not None:
            return _say(prefix if (refusal or answer) else f"{prefix} {again}")
        return _say(f"{prefix} {step.say}")

    # --- recovery, messages, questions -----------------------------------------------------

    def _not_again(self, st: DialogueState, action: Action | None, today: date
                   ) -> Action | None:
        """Never the identical reply twice in a row: say it another way."""
        if action is None or not action.say or " ".join(action.say.split()) != st.last_reply:
            return action
        kind = replies.prompt_kind(action.say)
        if st.request is not None and kind in (replies.ASK_TIME, replies.ASK_NAME,
                                               replies.ASK_CONFIRM, replies.ASK_DAY):
            other = self._choices(st, today, self._progress(st, today))
        else:
            other = {replies.ASK_NAME: replies.ASK_NAME_AGAIN,
                     replies.ASK_SPELL: "Please spell your name one letter at a time.",
                     replies.ASK_MESSAGE: "Please tell me the message you'd like to leave.",
                     replies.ASK_CALLBACK: "Is the number you're calling from the best one "
                                           "to call you back on?"}.get(
                kind or "", f"{replies.SAY_AGAIN_SHORT} {replies.CHOICES_GENERAL}")
        if " ".join(other.split()) == st.last_reply:
            other = f"{replies.SAY_AGAIN_SHORT} {replies.CHOICES_GENERAL}"
        return Action(say=other, tool_call=action.tool_call)

    def _choices(self, st: DialogueState, today: date, step: Action) -> str:
        """Two turns it could not use: what it has so far, and concrete choices."""
        r = st.request
        assert r is not None
        if r.day is None:
            days = [say_day(today + timedelta(days=n), today).split(",")[0] for n in (1, 2)]
            return replies.choices_days(["tomorrow", days[1]] if days else ["tomorrow"])
        known = st.slots.get(r.day)
        day_text = say_day(r.day, today)
        kind = replies.prompt_kind(step.say)
        if known and known.slots and (r.time is None or kind == replies.ASK_TIME):
            return replies.choices_times(day_text, spread(known.slots))
        chosen = next((t for t in (r.time, r.alternative) if t and known and t in known.slots),
                      None)
        if chosen and not st.name:
            return replies.choices_name(chosen, day_text)
        if chosen and st.name:
            return replies.choices_confirm(day_text, chosen, st.name)
        return replies.choices_days(["tomorrow", "another day this week"])

    def _give_up(self, st: DialogueState, today: date, *, can_message: bool) -> Action:
        """Three turns it could not use: take a message with what it has, then end."""
        if not can_message:
            return Action(say=f"I'm sorry, I'm having trouble understanding. Please call back "
                              f"later. {replies.goodbye(self.facts.business_name)}",
                          tool_call=ToolCall(END_CALL, {}))
        r = st.request
        wanted = "The caller could not be understood on the phone."
        if r is not None and r.day is not None:
            at = f" at {replies.say_time(r.time)}" if r.time else ""
            wanted = (f"The caller wanted an appointment on {say_day(r.day, today)}{at} and "
                      "could not be understood on the phone.")
        said = " / ".join(line.strip() for line in st.caller_lines[-4:] if line.strip())
        body = f"{wanted} They said: {said}" if said else wanted
        arguments: dict[str, Any] = {"message": body[:1000], "reason": "not_understood"}
        if st.name:
            arguments["name"] = st.name
        return _call(TAKE_MESSAGE, arguments)

    def _calendar_down(self, st: DialogueState, today: date, *, can_message: bool) -> Action:
        """The calendar of record cannot be reached: never "booked"; a message with the time
        the caller wanted instead, so the office can book it (once per call)."""
        if not can_message:
            return _say(f"{replies.CALENDAR_DOWN} {replies.ANYTHING_ELSE}")
        if st.calendar_message:
            return _say(f"{replies.CALENDAR_STILL_DOWN} {replies.ANYTHING_ELSE}")
        r = st.request
        wanted = "an appointment"
        if r is not None and r.day is not None:
            at = f" at {replies.say_time(r.time)}" if r.time else ""
            wanted = f"an appointment on {say_day(r.day, today)}{at}"
        body = (f"The caller wanted {wanted}. The calendar could not be reached during the "
                "call, so nothing was booked: please book it and call them back.")
        arguments: dict[str, Any] = {"message": body, "reason": "calendar_unreachable"}
        if st.name:
            arguments["name"] = st.name
        return _call(TAKE_MESSAGE, arguments)

    def _change_step(self, st: DialogueState, c: Change, today: date) -> Action:
        """The next step with the caller's own booking: look up, ask which, confirm, act."""
        if c.found is None:
            return _call(FIND, {})
        if c.lookup_failed:
            return _say(f"{replies.NO_NUMBER_FOR_BOOKINGS} {replies.ANYTHING_ELSE}")
        if not c.found:
            return _say(replies.no_bookings(can_book=True))
        spoken = [replies.at_day(say_day(h.day, today), h.time) for h in c.found]
        if c.action == "check":
            return _say(replies.your_booking(" and ".join(spoken)))
        if c.target is None:
            verb = "cancel" if c.action == "cancel" else "move"
            return _say(replies.which_booking(spoken[:3], verb))
        old = replies.at_day(say_day(c.target.day, today), c.target.time)
        if c.action == "cancel":
            if not c.confirmed:
                return _say(replies.confirm_cancel(old))
            return _call(CANCEL, {"appointment_id": c.target.id})
        r = c.new
        if r.day is None:
            return _say(replies.ask_new_day(old))
        if r.day < today:
            return _say(f"Sorry, that day has already passed. {replies.OTHER_DAY}")
        day_text = say_day(r.day, today)
        known = st.slots.get(r.day)
        if known is None:
            return _call(GET_SLOTS, {"date": r.day.isoformat()})
        if not known.slots:
            sorry = replies.closed(day_text) if known.closed else replies.fully_booked(day_text)
            return _say(f"{sorry} {replies.OTHER_DAY}")
        if r.time is None:
            in_part = [t for t in known.slots if in_part_of_day(t, r.part)]
            return _say(replies.offer(day_text, spread(in_part or known.slots), part=r.part,
                                      part_empty=bool(r.part) and not in_part))
        chosen = next((t for t in (r.time, r.alternative) if t and t in known.slots), None)
        if chosen is None:
            return _say(replies.unavailable(r.time, day_text, nearest(known.slots, r.time)))
        if not c.confirmed:
            return _say(replies.confirm_move(old, replies.at_day(day_text, chosen)))
        return _call(RESCHEDULE, {"appointment_id": c.target.id, "date": r.day.isoformat(),
                                  "time": chosen.strftime("%H:%M")})

    def _after_change_tool(self, st: DialogueState, today: date) -> Action | None:
        """What the caller hears after a find, cancel or reschedule result."""
        outcome = st.last_tool
        assert outcome is not None
        result = outcome.result
        if calendar_unreachable(outcome):
            return _say(f"{replies.CHANGE_CALENDAR_DOWN} {replies.ANYTHING_ELSE}")
        if outcome.name == CANCEL:
            if result.get("cancelled") is True:
                day, at = parse_day(result.get("date")), parse_hhmm(result.get("time"))
                when = replies.at_day(say_day(day, today), at) if day and at else "that day"
                return _say(replies.cancelled_booking(when))
            return _say(f"{replies.cannot_cancel(str(result.get('reason')))} "
                        f"{replies.ANYTHING_ELSE}")
        if outcome.name == RESCHEDULE and st.change is None:
            if result.get("rescheduled") is True:
                day, at = parse_day(result.get("date")), parse_hhmm(result.get("time"))
                when = replies.at_day(say_day(day, today), at) if day and at else "the new time"
                return _say(replies.moved_booking(when))
            if result.get("reason") == "not_found":
                return _say(f"{replies.CANT_FIND_IT} {replies.ANYTHING_ELSE}")
            return _say(f"Sorry, I couldn't move it to that time. {replies.ANYTHING_ELSE}")
        if st.change is None:
            return None
        if outcome.name == RESCHEDULE:  # the new slot was just taken: other times
            day = parse_day(outcome.arguments.get("date"))
            text = replies.refused("slot_taken", parse_hhmm(outcome.arguments.get("time")),
                                   say_day(day, today) if day else "that day")
            offers = st.pending_offers
            if offers:
                return _say(f"{text} {replies.alternatives_same_day([o.time for o in offers])}")
            return _say(f"{text} {replies.OTHER_TIME}")
        step = self._change_step(st, st.change, today)
        if step.tool_call is not None and step.tool_call.name == outcome.name:
            return _say(f"{replies.CALENDAR_DOWN} {replies.ANYTHING_ELSE}")  # never loop
        return step

    def _message_step(self, st: DialogueState) -> Action:
        """The next question of a message, or the take_message call once all is known."""
        m = st.message
        assert m is not None
        if st.needs_spelling:
            return _say(replies.ASK_SPELLING)
        if not st.name:
            return _say(replies.ASK_MESSAGE_NAME)
        if not m.body:
            return _say(replies.ASK_MESSAGE_BODY)
        if not m.callback_settled:
            return _say(replies.ASK_OTHER_NUMBER if m.asked_number
                        else replies.ASK_CALLBACK_NUMBER)
        arguments: dict[str, Any] = {"name": st.name, "message": m.body}
        if m.phone:
            arguments["phone"] = m.phone
        return _call(TAKE_MESSAGE, arguments)

    def _answer(self, u: Understanding, now: datetime, today: date) -> str:
        if u.question == "who":
            return replies.this_is(self.facts.business_name)
        if u.question == "number":
            return (replies.our_number(self.facts.phone_number) if self.facts.phone_number
                    else "Sorry, I don't have our number to hand.")
        day = u.day or (today + timedelta(days=u.day_shift) if u.day_shift else None)
        return hours.answer(self.facts.business_hours, u.question or "hours", now, day)

    @staticmethod
    def _refusal(u: Understanding, can_message: bool) -> str:
        kind = u.out_of_scope or ""
        if not can_message:
            return replies.REFUSALS_NO_MESSAGE.get(kind, replies.REFUSALS.get(kind, "")
                                                   if kind == "bot" else replies.CANT_HELP)
        return replies.REFUSALS.get(kind, replies.DONT_KNOW)

    @staticmethod
    def _move_on(st: DialogueState, u: Understanding, step: Action) -> Action:
        """The caller's turn left the request where it was: rather than the same reply word
        for word, ask which of the offered times a bare "yes" meant, or thank them for
        their name."""
        if u.yes and st.expect == replies.ASK_TIME and len(st.offers) > 1:
            return _say(replies.which_time([o.time for o in st.offers]))
        if u.name and st.name:
            return _say(f"Thanks, {replies.first_name(st.name)}. {step.say}")
        return step

    def _progress(self, st: DialogueState, today: date) -> Action:
        """The next step towards a booking: ask, look up, read back, or book."""
        r = st.request
        assert r is not None
        if r.day is None:
            return _say(replies.ask_day(has_time=bool(r.time or r.part), check_only=r.check_only))
        if r.day < today:
            return _say(f"Sorry, that day has already passed. {replies.OTHER_DAY}")
        day_text = say_day(r.day, today)
        known = st.slots.get(r.day)
        if known is None:
            return _call(GET_SLOTS, {"date": r.day.isoformat()})
        if not known.slots:
            sorry = replies.closed(day_text) if known.closed else replies.fully_booked(day_text)
            return _say(f"{sorry} {replies.OTHER_DAY}")
        if r.time is None:
            in_part = [t for t in known.slots if in_part_of_day(t, r.part)]
            return _say(replies.offer(day_text, spread(in_part or known.slots), part=r.part,
                                      part_empty=bool(r.part) and not in_part))
        chosen = next((t for t in (r.time, r.alternative) if t and t in known.slots), None)
        if chosen is None:
            return _say(replies.unavailable(r.time, day_text, nearest(known.slots, r.time)))
        if not st.name:
            if st.needs_spelling:
                return _say(replies.ASK_SPELLING)
            return _say(replies.ask_name(chosen, day_text))
        if not r.confirmed:
            return _say(replies.confirm(day_text, chosen, st.name))
        return _call(BOOK, {"date": r.day.isoformat(), "time": chosen.strftime("%H:%M"),
                            "name": st.name})

    # --- tool results ---------------------------------------------------------------------

    def _after_tool(self, st: DialogueState, today: date, *, can_message: bool
                    ) -> Action | None:
        outcome = st.last_tool
        assert outcome is not None
        result = outcome.result
        day = parse_day(outcome.arguments.get("date"))
        if outcome.name in MANAGE_TOOLS or (st.change is not None and outcome.name == GET_SLOTS):
            return self._after_change_tool(st, today)
        if calendar_unreachable(outcome):
            if st.request is None:
                return None  # the caller cancelled while we looked
            return self._calendar_down(st, today, can_message=can_message)
        if outcome.name == TAKE_MESSAGE:
            if (result.get("taken") is True
                    and outcome.arguments.get("reason") == "calendar_unreachable"):
                return _say(replies.calendar_message_taken(
                    st.name, bool(result.get("callback_phone"))))
            if result.get("taken") is True:
                if st.gave_up:
                    return Action(say=replies.gave_up(self.facts.business_name),
                                  tool_call=ToolCall(END_CALL, {}))
                return _say(replies.message_taken(st.name))
            return _say(f"Sorry, I couldn't take a message just now. Please call back a "
                        f"little later. {replies.ANYTHING_ELSE}")
        if outcome.name == TRANSFER:
            # Only an explicit yes from the call means the caller is being put through;
            # "transferring": false, {"error": ...} or anything else is a no.
            if result.get("transferring") is True:
                return _say(replies.TRANSFERRING)
            return _say(replies.TRANSFER_FAILED)
        if outcome.name == GET_SLOTS:
            if "error" in result or not isinstance(result.get("slots"), list):
                return _say(f"{replies.CALENDAR_DOWN} {replies.ANYTHING_ELSE}")
            if st.request is None:
                return None  # the caller cancelled while we looked
            if day is not None and st.request.day == day and st.pending_offers:
                day_text = say_day(day, today)
                sorry = (replies.closed(day_text) if result.get("closed")
                         else replies.fully_booked(day_text))
                return _say(f"{sorry} {self._next_opening(st, today)}")
            step = self._progress(st, today)
            if step.tool_call is not None and step.tool_call.name == GET_SLOTS:
                return _say(f"{replies.CALENDAR_DOWN} {replies.ANYTHING_ELSE}")  # never loop
            return step
        if outcome.name == BOOK:
            if result.get("booked") is True:
                b = st.bookings[-1]
                return _say(replies.booked(say_day(b.day, today), b.time, b.name))
            reason = result.get("reason")
            if not isinstance(reason, str) or day is None:
                return _say(f"{replies.BOOKING_FAILED} {replies.ANYTHING_ELSE}")
            wanted = parse_hhmm(outcome.arguments.get("time"))
            text = replies.refused(reason, wanted, say_day(day, today))
            offers = st.pending_offers
            if offers and all(o.day == day for o in offers):
                return _say(f"{text} {replies.alternatives_same_day([o.time for o in offers])}")
            if offers:
                return _say(f"{text} {self._next_opening(st, today)}")
            again = replies.OTHER_DAY if reason == "closed" else replies.OTHER_TIME
            return _say(f"{text} {again}")
        return None

    @staticmethod
    def _next_opening(st: DialogueState, today: date) -> str:
        first = st.pending_offers[0].day
        assert first is not None
        return replies.next_opening(say_day(first, today), [o.time for o in st.pending_offers])


def next_action(messages: Sequence[Any], facts: ClientFacts, now: datetime,
                tools: Collection[str] | None = None) -> Action | None:
    """Convenience wrapper: the next action for `messages` at `now`."""
    return ReceptionistEngine(facts).next_action(messages, now, tools)
