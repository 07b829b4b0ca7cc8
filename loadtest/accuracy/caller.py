"""The benchmark's caller: says the dialogue's lines in order, and does what a person does
when the agent asks them to spell their name or to say something again, or reads back a
booking with the wrong name, day or time (they say no and give it again)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time

from loadtest.accuracy.dialogues import Dialogue

MAX_REPEATS = 2
MAX_SPELLINGS = 2
MAX_CORRECTIONS = 2
# The agent's read-back: "Let me confirm: Thursday, November 26 at 3 PM, for Ana Lopez."
# (and the "I have ... for ... Please say yes" form after a misunderstanding).
_READ_BACK = re.compile(
    r"(?:confirm:|I have) (?P<weekday>[A-Z][a-z]+day), (?P<month>[A-Z][a-z]+) (?P<day>\d{1,2})"
    r"(?:, \d{4})? at (?P<time>noon|\d{1,2}(?::\d{2})? [AP]M),? for (?P<name>[^.]+?)\."
    r"\s+(?:Shall I book it|Please say yes)")


def spelled(name: str) -> str:
    """"Zoe Hart. Z O E, H A R T." """
    return f"{name}. " + ", ".join(" ".join(word.upper()) for word in name.split()) + "."


def say_time(t: time) -> str:
    if t == time(12, 0):
        return "noon"
    hour = t.hour % 12 or 12
    minutes = "" if t.minute == 0 else f":{t.minute:02d}"
    return f"{hour}{minutes} {'AM' if t.hour < 12 else 'PM'}"


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass
class Caller:
    dialogue: Dialogue
    today: date
    position: int = 0
    repeats: int = 0
    spellings: int = 0
    corrections: int = 0
    last: str | None = None
    said: list[str] = field(default_factory=list)

    def next_line(self, agent_said: str) -> str | None:
        """What to say after the agent said ``agent_said``; None: nothing left to say."""
        heard = agent_said.lower()
        line = self._correction(agent_said)
        if line is not None:
            pass
        elif "spell" in heard and self.spellings < MAX_SPELLINGS and self.dialogue.book:
            self.spellings += 1
            line = self.dialogue.spell or spelled(self.dialogue.book.name)
        elif (self.last is not None and self.repeats < MAX_REPEATS
              and ("say that again" in heard or "was that a yes" in heard)):
            self.repeats += 1
            line = self.last
        elif self.position < len(self.dialogue.say):
            line = self.dialogue.say[self.position]
            self.position += 1
            self.repeats = 0
        else:
            return None
        self.last = line
        self.said.append(line)
        return line

    def _correction(self, agent_said: str) -> str | None:
        """"No, ..." when the agent reads back what the caller did not ask for."""
        e = self.dialogue.book
        m = _READ_BACK.search(agent_said)
        if e is None or m is None or self.corrections >= MAX_CORRECTIONS:
            return None
        upcoming = self.dialogue.say[self.position] if self.position < len(
            self.dialogue.say) else ""
        if re.match(r"\s*(?:no\b|actually|sorry|oh wait|hmm|can we|can you)", upcoming, re.I):
            return None  # the script corrects the read-back itself
        wanted = e.date_on(self.today)
        if _key(m["name"]) != _key(e.name):
            self.corrections += 1
            return f"No, my name is {spelled(e.name)}"
        if m["weekday"] != f"{wanted:%A}" or int(m["day"]) != wanted.day:
            self.corrections += 1
            return f"No, {wanted:%A}, {wanted:%B} {wanted.day}, at {say_time(e.time)}."
        if m["time"] != say_time(e.time):
            self.corrections += 1
            return f"No, at {say_time(e.time)}."
        return None
