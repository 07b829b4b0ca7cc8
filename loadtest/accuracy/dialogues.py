"""The benchmark's booking dialogues (``dialogues.yaml``) and what each must end with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from importlib import resources
from typing import Any

import yaml

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Expected:
    """The appointment a dialogue must leave: a day spec, a local time, a name."""

    day: str
    time: time
    name: str

    def date_on(self, today: date) -> date:
        return resolve_day(self.day, today)


@dataclass(frozen=True)
class Dialogue:
    id: int
    say: tuple[str, ...]
    book: Expected | None
    spell: str | None = None  # said when the agent asks the caller to spell their name
    held_out: bool = False


@dataclass(frozen=True)
class Suite:
    dialogues: tuple[Dialogue, ...]
    held_out_voices: frozenset[str]


def resolve_day(spec: str, today: date) -> date:
    """"+2", "tue" (the next Tuesday after today), "next-week-tue", "dom-14"."""
    if re.fullmatch(r"\+\d+", spec):
        return today + timedelta(days=int(spec[1:]))
    if spec in WEEKDAYS:
        ahead = (WEEKDAYS.index(spec) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    m = re.fullmatch(r"next-week-(\w{3})", spec)
    if m:
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday + timedelta(days=WEEKDAYS.index(m[1]))
    m = re.fullmatch(r"dom-(\d{1,2})", spec)
    if m:
        year, month = today.year, today.month
        for _ in range(13):
            try:
                candidate = date(year, month, int(m[1]))
            except ValueError:
                candidate = None
            if candidate and candidate >= today:
                return candidate
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise ValueError(f"unknown day spec {spec!r}")


def load(text: str | None = None) -> Suite:
    """The shipped dialogues (or ``text`` in the same YAML shape)."""
    if text is None:
        text = (resources.files("loadtest.accuracy") / "dialogues.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    held = data.get("held_out") or {}
    every = int(held.get("dialogue_multiple_of") or 0)
    dialogues = []
    for item in data["dialogues"]:
        book = item.get("book")
        expected = None if book is None else Expected(
            day=str(book["day"]), time=time.fromisoformat(str(book["time"])),
            name=str(book["name"]))
        number = int(item["id"])
        dialogues.append(Dialogue(id=number, say=tuple(str(s) for s in item["say"]),
                                  book=expected, spell=item.get("spell"),
                                  held_out=bool(every) and number % every == 0))
    return Suite(tuple(dialogues), frozenset(held.get("voices") or ()))
