"""The receptionist scored without a server: on the caller's lines as written ("text"), or on
what the product's Whisper hears of them spoken by a caller voice over a phone line ("audio").

These two modes run the product's own receptionist engine and Whisper code in this process
(the ``call`` mode is the one that talks to a server like Twilio does). The calendar is the
benchmark client's: open every day 08:00-18:00, 15-minute slots, nothing booked; a day's
first booking takes its slot. What Whisper heard is cached per line, voice, line condition
and model, so scoring a changed receptionist again costs no recognition.
"""

from __future__ import annotations

import audioop  # stdlib up to 3.12; the audioop-lts dependency provides it from 3.13
import hashlib
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loadtest import phone_line, voices
from loadtest.accuracy.caller import Caller
from loadtest.accuracy.dialogues import Dialogue
from loadtest.accuracy.score import Booked, CallResult

TZ = "America/New_York"
BUSINESS = "Bright Smile Dental"
PHONE = "+15555550142"
HOURS = {d: ["08:00", "18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
SLOT_MINUTES = 15
# Offline runs are on a fixed Wednesday morning, so "tomorrow" is always the same day.
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=ZoneInfo(TZ))
CALLER_ID = "+12125550199"
MAX_AGENT_MOVES = 40

Hear = Callable[[str], str]


class Calendar:
    """The benchmark client's calendar, as the calendar tools answer for it."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.booked: list[Booked] = []
        self.messages: list[dict[str, Any]] = []

    def slots(self, day: date) -> list[str]:
        taken = {b.time for b in self.booked if b.day == day}
        out = []
        t = datetime.combine(day, time(8, 0))
        while t.time() < time(18, 0):
            if t.time() not in taken and t.replace(tzinfo=self.now.tzinfo) > self.now:
                out.append(t.strftime("%H:%M"))
            t += timedelta(minutes=SLOT_MINUTES)
        return out

    def __call__(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "get_available_slots":
            day = date.fromisoformat(args["date"])
            return {"date": args["date"], "weekday": f"{day:%A}", "timezone": TZ,
                    "slots": self.slots(day)}
        if name == "book_appointment":
            day, at = date.fromisoformat(args["date"]), time.fromisoformat(args["time"])
            if args["time"] not in self.slots(day):
                return {"booked": False, "reason": "slot_taken", "date": args["date"],
                        "time": args["time"], "alternatives": []}
            self.booked.append(Booked(day, at, args["name"]))
            return {"booked": True, "appointment_id": len(self.booked), **args,
                    "phone": CALLER_ID}
        if name == "take_message":
            self.messages.append(args)
            return {"taken": True, "message_id": len(self.messages),
                    "name": args.get("name"), "callback_phone": CALLER_ID}
        return {"ok": True}


def converse(dialogue: Dialogue, hear: Hear, *, voice: str, noisy: bool,
             now: datetime = NOW) -> CallResult:
    """One call: the engine answers, the caller says its lines, tools answer from the
    calendar; the result holds the bookings and everything both sides said."""
    from pipelines.receptionist.engine import ClientFacts, ReceptionistEngine

    engine = ReceptionistEngine(ClientFacts(BUSINESS, TZ, None, business_hours=HOURS,
                                            phone_number=PHONE))
    calendar = Calendar(now)
    result = CallResult(dialogue=dialogue, voice=voice, noisy=noisy, today=now.date())
    messages: list[dict[str, Any]] = []
    caller = Caller(dialogue, today=now.date())
    ended = False
    moves = 0

    def agent() -> None:
        nonlocal ended, moves
        while moves < MAX_AGENT_MOVES:
            moves += 1
            action = engine.next_action(messages, now)
            if action is None:
                return
            if action.say:
                result.agent.append(action.say)
                messages.append({"role": "assistant", "content": action.say})
            if action.tool_call is None:
                return
            call = action.tool_call
            call_id = f"call_{moves}"
            messages.append({"role": "assistant", "tool_calls": [{
                "id": call_id, "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]})
            answer = calendar(call.name, call.arguments)
            messages.append({"role": "tool", "tool_call_id": call_id,
                             "content": json.dumps(answer)})
            if call.name == "book_appointment" and answer.get("booked") and \
                    result.turns_to_booking is None:
                result.turns_to_booking = len(result.caller)
            if call.name == "end_call":
                ended = True
                return

    agent()
    while not ended:
        line = caller.next_line(result.agent[-1] if result.agent else "")
        if line is None:
            break
        heard = hear(line)
        result.caller.append((line, heard))
        agents_before = len(result.agent)
        if heard.strip():
            messages.append({"role": "user", "content": heard})
            agent()
        if len(result.agent) == agents_before and not ended:
            result.unanswered_turns += 1
    result.bookings = list(calendar.booked)
    result.messages = len(calendar.messages)
    return result


# --- hearing: caller voice → phone line → Whisper --------------------------------------------

def phone_audio(text: str, voice: str, *, noisy: bool, seed: int) -> bytes:
    """8 kHz 16-bit PCM of ``text`` as it arrives from Twilio: voice, band, noise, μ-law."""
    pcm, rate = voices.synthesize(text, engine=voice)
    line = phone_line.phone(pcm, rate, noisy=noisy, seed=seed)
    ulaw = audioop.lin2ulaw(voices.resample(line, rate, voices.PHONE_RATE), 2)
    return audioop.ulaw2lin(ulaw, 2)


class Hearing:
    """What the product's Whisper makes of each line, cached on disk."""

    def __init__(self, model: str, cache: Path, *, stt_threads: int = 2) -> None:
        self.model = model
        self.cache_path = cache
        self.stt_threads = stt_threads
        self._cache: dict[str, str] = json.loads(cache.read_text()) if cache.exists() else {}
        self._whisper: Any = None
        self.decodes = 0
        self.decode_seconds: list[float] = []

    def _load(self) -> Any:
        if self._whisper is None:
            from pipelines.local.models import load_whisper

            self._whisper = load_whisper(self.model, cpu_threads=self.stt_threads,
                                         num_workers=1)
        return self._whisper

    def key(self, text: str, voice: str, noisy: bool) -> str:
        from pipelines.local import transcribe

        config = transcribe.config_fingerprint()
        raw = json.dumps([self.model, config, voice, noisy, phone_line.NOISE_SNR_DB, text])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def hear(self, text: str, voice: str, noisy: bool) -> str:
        key = self.key(text, voice, noisy)
        if key not in self._cache:
            import time as clock

            from pipelines.local.transcribe import domain_prompt, transcribe_sync

            seed = int(key[:8], 16)
            pcm = phone_audio(text, voice, noisy=noisy, seed=seed)
            started = clock.perf_counter()
            self._cache[key] = transcribe_sync(self._load(), pcm, voices.PHONE_RATE,
                                               prompt=domain_prompt(BUSINESS))
            self.decode_seconds.append(clock.perf_counter() - started)
            self.decodes += 1
        return self._cache[key]

    def save(self) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        self.cache_path.write_text(json.dumps(self._cache))
