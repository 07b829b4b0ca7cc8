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

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.receptionist import replies
from pipelines.receptionist.nlu import Understanding
from pipelines.receptionist.replies import say_day
from pipelines.receptionist.state import (
    BOOK,
    END_CALL,
    GET_SLOTS,
    TRANSFER,
    DialogueState,
    message_text,
    nearest,
    parse_day,
    parse_hhmm,
    replay,
    spread,
)
from pipelines.receptionist.when import in_part_of_day

BOOKING_TOOLS = (GET_SLOTS, BOOK, END_CALL)
TOOL_NAMES = (*BOOKING_TOOLS, TRANSFER)  # every tool the engine may call


@dataclass(frozen=True)
class ClientFacts:
    """What the receptionist knows about the business it answers for."""

    business_name: str
    timezone: str  # IANA name, e.g. "America/New_York"
    initial_greeting: str | None = None


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
            or after.wants_change or after.changed_after_booking)


def _wants_to_hang_up(st: DialogueState) -> bool:
    u = st.last_user
    assert u is not None
    confirming = st.expect == replies.ASK_CONFIRM and st.request is not None
    if confirming and st.request is not None and st.request.confirmed:
        return False  # "yes, thanks, bye" to the read-back: book first, goodbyes after
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
        st = replay(messages, today)
        if st.ended or st.last == "waiting":
            return None
        if st.transferring and st.last != "tool":
            return None  # the hold line has been said; the call does the rest
        if st.last == "tool":
            return self._after_tool(st, today)
        if st.last == "user":
            missed = self._missed_reply(messages, st, now, today, tools)
            if missed:
                return _say(missed)
            offered = BOOKING_TOOLS if tools is None else tools
            return self._after_user(st, today, can_transfer=TRANSFER in offered)
        if not st.greeted:
            return _say(replies.greeting(self.facts.business_name, self.facts.initial_greeting))
        return None

    # --- caller turns ---------------------------------------------------------------------

    def _missed_reply(self, messages: Sequence[Any], st: DialogueState, now: datetime,
                      today: date, tools: Collection[str] | None) -> str | None:
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
        if _moved(replay(messages[:end], today), st):
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

    def _after_user(self, st: DialogueState, today: date, *, can_transfer: bool) -> Action:
        u = st.last_user
        assert u is not None
        if u.transfer and can_transfer and not st.transfer_failed:
            # Said after the result, so the caller hears "transferring" only when it is true.
            # A transfer that failed is not tried again; the refusal below answers instead.
            return _call(TRANSFER, {})
        if not st.greeted and not (u.has_details or u.book or u.availability or u.name
                                   or u.out_of_scope or u.goodbye):
            return _say(replies.greeting(self.facts.business_name, self.facts.initial_greeting))
        if _wants_to_hang_up(st):
            return Action(say=replies.goodbye(self.facts.business_name),
                          tool_call=ToolCall(END_CALL, {}))
        if st.cancelled:
            return _say(f"{replies.CANCELLED} {replies.ANYTHING_ELSE}")
        if st.changed_after_booking:
            last = st.bookings[-1]
            return _say(replies.already_booked(say_day(last.day, today), last.time))

        refusal = replies.REFUSALS[u.out_of_scope] if u.out_of_scope else None
        if st.request is None:
            if refusal:
                return _say(refusal)
            if u.name:
                return _say(f"Thanks, {replies.first_name(u.name)}. {replies.HOW_CAN_I_HELP}")
            if u.thanks:
                return _say(f"You're welcome. {replies.ANYTHING_ELSE}")
            if st.expect == replies.ASK_ANYTHING_ELSE and u.yes:
                return _say("Sure. What can I help you with?")
            if u.greeting:
                return _say(f"Hi! {replies.HOW_CAN_I_HELP}")
            if u.keys_only:
                return _say(f"{replies.KEYPAD} {replies.SAY_WHAT_YOU_NEED}")
            if u.empty:
                return _say(f"{replies.DIDNT_CATCH} {replies.SAY_AGAIN}")
            if u.yes or u.no:
                return _say(f"Okay. {replies.HOW_CAN_I_HELP}")
            return _say(replies.REFUSALS["other"])

        if st.wants_change:
            return _say(replies.WHAT_TO_CHANGE)
        step = self._progress(st, today)
        if u.keys_only:
            prefix, again = replies.KEYPAD, replies.SAY_WHAT_YOU_NEED
        else:
            prefix = refusal or (None if u.understood else replies.DIDNT_CATCH)
            again = replies.SAY_AGAIN
        if prefix is None:
            if step.tool_call is None and step.say and st.last_reply.endswith(step.say):
                return self._move_on(st, u, step)
            return step
        # A tool call is not combined with speech: the reply would land in the context
        # after the tool result and hide it. Ask again instead; the next turn continues.
        if step.tool_call is not None:
            return _say(prefix if refusal else f"{prefix} {again}")
        return _say(f"{prefix} {step.say}")

    @staticmethod
    def _move_on(st: DialogueState, u: Understanding, step: Action) -> Action:
        """The caller's turn left the request where it was: rather than the same reply word
        for word, ask which of the offered times a bare "yes" meant, or thank them for
        their name."""
        if u.yes and st.expect == replies.ASK_TIME and len(st.offers) > 1:
            return _say(replies.which_time([o.time for o in st.offers]))
        if u.name:
            return _say(f"Thanks, {replies.first_name(u.name)}. {step.say}")
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
            return _say(replies.ask_name(chosen, day_text))
        if not r.confirmed:
            return _say(replies.confirm(day_text, chosen, st.name))
        return _call(BOOK, {"date": r.day.isoformat(), "time": chosen.strftime("%H:%M"),
                            "name": st.name})

    # --- tool results ---------------------------------------------------------------------

    def _after_tool(self, st: DialogueState, today: date) -> Action | None:
        outcome = st.last_tool
        assert outcome is not None
        result = outcome.result
        day = parse_day(outcome.arguments.get("date"))
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
