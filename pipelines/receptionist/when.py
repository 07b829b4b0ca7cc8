"""Days and times in what a caller says, read relative to the client's local "now".

Month names, numeric dates and "in N days" go through ``dateparser`` (future dates
preferred, relative to the client's local time). Weekdays, bare ordinals ("the 14th")
and all clock times are read by the rules below, because dateparser gets them wrong
for a receptionist: "at 3" becomes March, "the 14th" can land in the past, and
"half past two" is not understood at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import dateparser

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Opening hours are mostly daytime: a bare "3" is 3 PM, a bare "9" is 9 AM.
_FIRST_PM_HOUR = 1
_LAST_PM_HOUR = 6

PART_OF_DAY_RANGES: dict[str, tuple[time, time]] = {
    "morning": (time(0, 0), time(12, 0)),
    "afternoon": (time(12, 0), time(17, 0)),
    "evening": (time(17, 0), time(23, 59)),
}

_CARDINALS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty five": 45, "forty-five": 45, "fourty five": 45,
}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "twenty first": 21, "twenty second": 22,
    "twenty third": 23, "twenty fourth": 24, "twenty fifth": 25, "twenty sixth": 26,
    "twenty seventh": 27, "twenty eighth": 28, "twenty ninth": 29, "thirtieth": 30,
    "thirty first": 31,
}
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_WEEKDAY = "(?:" + "|".join(WEEKDAYS) + ")"


def _suffix(n: int) -> str:
    if n % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


_ORDINAL_WORDS = "|".join(sorted(_ORDINALS, key=len, reverse=True)).replace(" ", r"[\s-]")
_CARDINAL_WORDS = "|".join(sorted(_CARDINALS, key=len, reverse=True)).replace(" ", r"[\s-]")
# Ordinal words become "14th" only where they name a day, so "first thing" and
# "just a second" stay words.
_ORDINAL_DAY_RE = re.compile(
    rf"\b(?P<pre>the|{_MONTH})\s+(?P<word>{_ORDINAL_WORDS})\b|\b(?P<word2>{_ORDINAL_WORDS})\s+of\b")
_CARDINAL_RE = re.compile(rf"\b(?:{_CARDINAL_WORDS})\b")
# "one" is too common to convert everywhere ("the one at 3", "anyone").
_ONE_AFTER_RE = re.compile(r"\b(at|past|to|around|about|by|it)\s+one\b")
_ONE_BEFORE_RE = re.compile(r"\bone(?=\s+(?:am|pm|oclock|30|15|45|in the)\b)")


def normalize(text: str) -> str:
    """Lower-case text with "a.m." → "am", "o'clock" → "oclock" and number words as digits."""
    s = " " + text.lower().replace("\u2019", "'") + " "
    s = re.sub(r"\ba\.?\s?m\b\.?", "am", s)
    s = re.sub(r"\bp\.?\s?m\b\.?", "pm", s)
    s = re.sub(r"\bo'?\s?clock\b", "oclock", s)
    s = re.sub(r"\bmid-day\b", "midday", s)

    def ordinal(m: re.Match[str]) -> str:
        word = (m["word"] or m["word2"]).replace("-", " ")
        word = re.sub(r"\s+", " ", word)
        n = _ORDINALS[word]
        return f"{m['pre']} {n}{_suffix(n)}" if m["pre"] else f"{n}{_suffix(n)} of"

    s = _ORDINAL_DAY_RE.sub(ordinal, s)
    for pattern, replacement in _MISHEARD:
        s = pattern.sub(replacement, s)
    s = _CARDINAL_RE.sub(lambda m: str(_CARDINALS[re.sub(r"[\s-]+", " ", m[0])]), s)
    s = _ONE_AFTER_RE.sub(r"\1 1", s)
    s = _ONE_BEFORE_RE.sub("1", s)
    s = _HALF_HOUR_RE.sub(r"half past \1", s)
    s = _RUN_TOGETHER_RE.sub(_clock_digits, s)
    return re.sub(r"\s+", " ", s).strip()


# What recognition writes for spoken times on a phone line: "half past, free" (three),
# "date a clock" (eight o'clock), "at for" (four); and digits run together ("1130am").
_MISHEARD: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(past|at|to|till|after)[\s,]+(?:free|tree)\b"), r"\1 three"),
    (re.compile(r"\b(?:free|tree)(?=[\s,]+(?:pm|am|oclock|thirty|fifteen|forty)\b)"), "three"),
    (re.compile(r"\b(past|at|to|till|after)[\s,]+for\b(?!\s+(?:a|an|the|me|my|us|you)\b)"),
     r"\1 four"),
    (re.compile(r"\b(?:date|ate|eat|aid)\s+(?:a\s+)?o?clock\b"), "eight oclock"),
    (re.compile(r"\b(\w+)\s+a\s+clock\b"), r"\1 oclock"),
    (re.compile(r"\bhalf past,\s*"), "half past "),
    (re.compile(r"\b(\d{1,2})\s?m\b"), r"\1 am"),  # "at 10m" for "at 10 am"
    # Weekdays as a phone line blurs them.
    (re.compile(r"\b(?:thirsty|thurs day|thursdays?)\b"), "thursday"),
    (re.compile(r"\b(?:choose day|twos day|tues day)\b"), "tuesday"),
    (re.compile(r"\b(?:fry day|fri day)\b"), "friday"),
    (re.compile(r"\b(?:wednes day|wensday|wens day)\b"), "wednesday"),
    (re.compile(r"\b(?:mon day|monday's)\b"), "monday"),
    (re.compile(r"\b(?:to morrow|tomorrow's|tomorow)\b"), "tomorrow"),
)
# "half eleven" is half past eleven (not a word Whisper writes for anything else).
_HALF_HOUR_RE = re.compile(r"\bhalf (\d{1,2})\b(?!\s*(?:hours?|days?|an?\b))")
# "1130", "530", "1130am": a clock time written without its colon.
_RUN_TOGETHER_RE = re.compile(r"\b(\d{1,2})([0-5]\d)(?=\s*(?:am|pm)\b|\b)(?!\s*(?:st|nd|rd|th)\b)")


def _clock_digits(m: re.Match[str]) -> str:
    hour = int(m[1])
    return f"{hour}:{m[2]}" if 1 <= hour <= 12 else m[0]  # not a year such as 2026


# --- days -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    value: object


_NEGATED_RE = re.compile(
    r"(?:\bnot|\binstead of|\brather than|\bexcept)\s*(?:on\s+|at\s+|the\s+)?$")

_REL_DAY_RE = re.compile(r"\b(?P<w>day after tomorrow|tomorrow|today|tonight)\b")
_THIS_PART_RE = re.compile(r"\bthis (?:morning|afternoon|evening)\b")
_WEEKDAY_RE = re.compile(
    rf"\b(?:(?P<q>this|next|coming)\s+)?(?P<wd>{_WEEKDAY})s?\b(?P<nw>\s+(?:of\s+)?next week)?")
_NEXT_WEEK_WD_RE = re.compile(rf"\bnext week\s+(?:on\s+)?(?P<wd>{_WEEKDAY})\b")
_MONTH_DAY_RE = re.compile(
    rf"\b(?P<m>{_MONTH})\.?\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b"
    rf"|\b(?:the\s+)?(?P<d2>\d{{1,2}})(?:(?:st|nd|rd|th)\s+(?:of\s+)?|\s+of\s+)(?P<m2>{_MONTH})\b")
_NUMERIC_RE = re.compile(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b")
_IN_DAYS_RE = re.compile(r"\bin\s+(?:\d+|a|an|a couple of)\s+(?:days?|weeks?)\b")
_DAYS_FROM_NOW_RE = re.compile(r"\b(?P<n>\d+|a|an|a couple of)\s+(?P<u>days?|weeks?)\s+from\s+"
                               r"(?:now|today)\b")
_WEEK_FROM_RE = re.compile(r"\b(?:a|1) week from (?P<w>today|now|tomorrow)\b")
_ORDINAL_RE = re.compile(
    r"\b(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)\b(?!\s+(?:one|option|slot|time|thing)\b)")


def _dateparser(span: str, today: date, now: datetime | None) -> date | None:
    base = now.replace(tzinfo=None) if now else datetime.combine(today, time(12))
    parsed = dateparser.parse(span, languages=["en"], settings={
        "PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "DATE_ORDER": "MDY",
        "PREFER_DAY_OF_MONTH": "first"})
    if parsed is None or parsed.date() < today:
        return None
    return parsed.date()


def _weekday(today: date, m: re.Match[str]) -> date:
    target = WEEKDAYS.index(m["wd"])
    if m.groupdict().get("nw") or m.re is _NEXT_WEEK_WD_RE:
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday + timedelta(days=target)
    ahead = (target - today.weekday()) % 7
    if ahead == 0 and m["q"] != "this":
        ahead = 7  # "Wednesday" said on a Wednesday means next week; "today" says today
    return today + timedelta(days=ahead)


def _day_of_month(today: date, day: int) -> date | None:
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate and candidate >= today:
            return candidate
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return None


def _find_days(s: str, today: date, now: datetime | None) -> list[_Found]:
    found: list[_Found] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], value: date | None) -> None:
        if any(m.start() < e and s_ < m.end() for s_, e in taken):
            return
        taken.append((m.start(), m.end()))
        if value is not None:
            found.append(_Found(m.start(), m.end(), value))

    for m in _MONTH_DAY_RE.finditer(s):
        month, day = (m["m"], m["d"]) if m["m"] else (m["m2"], m["d2"])
        add(m, _dateparser(f"{month} {int(day)}", today, now))
    for m in _NUMERIC_RE.finditer(s):
        add(m, _dateparser(m[0], today, now))
    for m in _WEEK_FROM_RE.finditer(s):
        add(m, today + timedelta(days=8 if m["w"] == "tomorrow" else 7))
    for m in _IN_DAYS_RE.finditer(s):
        add(m, _dateparser(m[0], today, now))
    for m in _DAYS_FROM_NOW_RE.finditer(s):
        add(m, _dateparser(f"in {m['n']} {m['u']}", today, now))
    for m in _NEXT_WEEK_WD_RE.finditer(s):
        add(m, _weekday(today, m))
    for m in _WEEKDAY_RE.finditer(s):
        add(m, _weekday(today, m))
    for m in _REL_DAY_RE.finditer(s):
        offset = {"day after tomorrow": 2, "tomorrow": 1}.get(m["w"], 0)
        add(m, today + timedelta(days=offset))
    for m in _THIS_PART_RE.finditer(s):
        add(m, today)
    for m in _ORDINAL_RE.finditer(s):
        add(m, _day_of_month(today, int(m["d"])))
    return found


def _pick(found: list[_Found], s: str) -> _Found | None:
    """The last mention the caller did not negate ("not Thursday, Friday")."""
    kept = [f for f in found if not _NEGATED_RE.search(s[: f.start])]
    return max(kept, key=lambda f: f.start) if kept else None


def find_day(text: str, today: date, now: datetime | None = None) -> tuple[date | None, str]:
    """The day named in normalized `text` and the text with every day mention blanked out."""
    found = _find_days(text, today, now)
    blanked = text
    for f in found:
        blanked = blanked[: f.start] + " " * (f.end - f.start) + blanked[f.end:]
    # Blank unparseable date-like spans too, so "the 31st" never turns into a clock time.
    blanked = _MONTH_DAY_RE.sub(lambda m: " " * len(m[0]), blanked)
    blanked = _NUMERIC_RE.sub(lambda m: " " * len(m[0]), blanked)
    blanked = _IN_DAYS_RE.sub(lambda m: " " * len(m[0]), blanked)
    blanked = _DAYS_FROM_NOW_RE.sub(lambda m: " " * len(m[0]), blanked)
    blanked = _ORDINAL_RE.sub(lambda m: " " * len(m[0]), blanked)
    chosen = _pick(found, text)
    return (chosen.value if chosen else None), blanked  # type: ignore[return-value]


# --- times ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TimeMention:
    """A clock time; `alternative` is the other half of the day when no am/pm was said."""

    value: time
    alternative: time | None = None

    def readings(self) -> tuple[time, ...]:
        return (self.value,) if self.alternative is None else (self.value, self.alternative)


_PART_RE = re.compile(r"\b(?P<p>morning|afternoon|evening|tonight)\b|\bafter lunch\b")
_NOT_TIME_AFTER = (r"(?!\s*(?:st|nd|rd|th|/|days?|weeks?|months?|years?|people|persons|guests"
                   r"|minutes?|mins?|hours?|hrs?|of\b|percent|dollars|bucks|kids|children))")
_TIME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("noon", re.compile(r"\b(?:noon|midday|lunchtime|lunch time)\b")),
    ("half", re.compile(r"\bhalf past (?P<h>\d{1,2})\b")),
    ("qpast", re.compile(r"\bquarter (?:past|after) (?P<h>\d{1,2})\b")),
    ("qto", re.compile(r"\bquarter (?:to|of|till) (?P<h>\d{1,2})\b")),
    ("ampm", re.compile(r"\b(?P<h>\d{1,2})(?:[:.\s](?P<m>\d{2}))?\s*(?P<ap>am|pm)\b")),
    ("clock", re.compile(r"\b(?P<h>\d{1,2})[:.](?P<m>\d{2})\b")),
    ("oclock", re.compile(r"\b(?P<h>\d{1,2})(?:\s+(?P<m>\d{2}))?\s*oclock\b")),
    ("bare", re.compile(rf"\b(?P<h>\d{{1,2}})(?:\s+(?P<m>[0-5]\d))?\b{_NOT_TIME_AFTER}")),
)


def find_part_of_day(text: str) -> str | None:
    """"morning", "afternoon" or "evening" when the caller names one (greetings excluded)."""
    s = re.sub(r"\bgood (?:morning|afternoon|evening)\b", " ", text)
    parts = [("afternoon" if m["p"] is None else "evening" if m["p"] == "tonight" else m["p"])
             for m in _PART_RE.finditer(s)]
    return parts[-1] if parts else None


def _resolve(hour: int, minute: int, ap: str | None, part: str | None) -> TimeMention | None:
    if not (0 <= minute < 60):
        return None
    if ap is not None:
        if not 1 <= hour <= 12:
            return None
        return TimeMention(time(hour % 12 + (12 if ap == "pm" else 0), minute))
    if 13 <= hour <= 23:
        return TimeMention(time(hour, minute))
    if not 1 <= hour <= 12:
        return None
    am, pm = time(hour % 12, minute), time(hour % 12 + 12, minute)
    if hour == 12:
        return TimeMention(time(12, minute))
    if part == "morning":
        return TimeMention(am)
    if part in ("afternoon", "evening"):
        return TimeMention(pm)
    if _FIRST_PM_HOUR <= hour <= _LAST_PM_HOUR:
        return TimeMention(pm, alternative=am)
    return TimeMention(am, alternative=pm)


def find_time(blanked: str, part: str | None = None) -> TimeMention | None:
    """The clock time in normalized text whose day mentions are already blanked out."""
    found: list[_Found] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _TIME_PATTERNS:
        for m in pattern.finditer(blanked):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            if kind == "noon":
                mention: TimeMention | None = TimeMention(time(12, 0))
            else:
                hour, minute = int(m["h"]), int(m.groupdict().get("m") or 0)
                if kind == "bare" and hour > 12:
                    continue
                if kind == "half":
                    minute = 30
                elif kind == "qpast":
                    minute = 15
                elif kind == "qto":
                    hour, minute = (hour - 1) or 12, 45
                mention = _resolve(hour, minute, m.groupdict().get("ap"), part)
            if mention is not None:
                found.append(_Found(m.start(), m.end(), mention))
    chosen = _pick(found, blanked)
    return chosen.value if chosen else None  # type: ignore[return-value]


_EXPLICIT_RE = re.compile(r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ap>am|pm)\b|\bnoon\b")


def explicit_times(text: str) -> tuple[time, ...]:
    """Times written with am/pm (or "noon") in our own replies, in order."""
    out = []
    for m in _EXPLICIT_RE.finditer(normalize(text)):
        if m["h"] is None:
            out.append(time(12, 0))
        else:
            mention = _resolve(int(m["h"]), int(m["m"] or 0), m["ap"], None)
            if mention is not None:
                out.append(mention.value)
    return tuple(out)


def in_part_of_day(t: time, part: str | None) -> bool:
    if part is None:
        return True
    start, end = PART_OF_DAY_RANGES[part]
    return start <= t < end


@lru_cache(maxsize=1)
def warm_up() -> None:
    """Load dateparser's language data now rather than on a caller's first turn."""
    _dateparser("december 3", date(2026, 1, 1), None)
