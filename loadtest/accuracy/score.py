"""Scoring one benchmark call and a set of them."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from loadtest.accuracy.dialogues import Dialogue


@dataclass(frozen=True)
class Booked:
    day: date
    time: time
    name: str


@dataclass
class CallResult:
    dialogue: Dialogue
    voice: str          # "text" when the receptionist read the caller's lines as written
    noisy: bool
    today: date
    bookings: list[Booked] = field(default_factory=list)
    messages: int = 0
    agent: list[str] = field(default_factory=list)          # what the agent said, in order
    caller: list[tuple[str, str]] = field(default_factory=list)  # (said, heard) per turn
    turns_to_booking: int | None = None                    # caller turns until it booked
    unanswered_turns: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def bookable(self) -> bool:
        return self.dialogue.book is not None

    @property
    def correct(self) -> bool:
        e = self.dialogue.book
        return e is not None and len(self.bookings) == 1 and _matches(self.bookings[0], e,
                                                                      self.today)

    @property
    def wrong(self) -> bool:
        """Booked something other than what a bookable call asked for."""
        return self.bookable and bool(self.bookings) and not self.correct

    @property
    def invented(self) -> bool:
        """Booked anything on a call that had to book nothing."""
        return not self.bookable and bool(self.bookings)

    @property
    def repeated(self) -> bool:
        """The agent said the identical reply twice in a row."""
        said = [" ".join(a.split()) for a in self.agent]
        return any(a == b for a, b in zip(said, said[1:], strict=False))

    @property
    def failed(self) -> bool:
        return (not self.correct) if self.bookable else self.invented


def _name_key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _matches(b: Booked, e: Any, today: date) -> bool:
    return (b.day == e.date_on(today) and b.time == e.time
            and _name_key(b.name) == _name_key(e.name))


def failure_detail(r: CallResult) -> str:
    """Why a failed call failed, in a few words."""
    e = r.dialogue.book
    if e is None:
        return "booked on a call that asked for no booking"
    if not r.bookings:
        return "no booking" + (" (message taken)" if r.messages else "")
    b = r.bookings[-1]
    wrong = [what for what, ok in (("day", b.day == e.date_on(r.today)), ("time", b.time == e.time),
                                   ("name", _name_key(b.name) == _name_key(e.name))) if not ok]
    return f"wrong {', '.join(wrong)}: booked {b.day} {b.time:%H:%M} for {b.name}"


@dataclass
class Figures:
    calls: int
    bookable: int
    correct: int
    wrong: int
    invented: int
    repeated: int
    unanswered_turns: int
    turns_per_booking: float | None
    errors: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.bookable if self.bookable else None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "accuracy": self.accuracy}


def figures(results: list[CallResult]) -> Figures:
    turns = [r.turns_to_booking for r in results if r.correct and r.turns_to_booking]
    return Figures(
        calls=len(results), bookable=sum(r.bookable for r in results),
        correct=sum(r.correct for r in results), wrong=sum(r.wrong for r in results),
        invented=sum(r.invented for r in results), repeated=sum(r.repeated for r in results),
        unanswered_turns=sum(r.unanswered_turns for r in results),
        turns_per_booking=statistics.mean(turns) if turns else None,
        errors=sum(r.error is not None for r in results))
